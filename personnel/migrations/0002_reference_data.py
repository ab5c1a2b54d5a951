"""The roles, pioneer-post types and team formulas named in the domain brief. They are data:
administrators may add more; this migration only creates what is missing."""

from django.db import migrations

ROLES = [
    # code, 中文, English, grid chief, 包保 leader
    ("grid_chief", "网格长", "grid chief", True, False),
    ("baobao_leader", "包保领导", "baobao leader", False, True),
    ("full_time_worker", "专职网格员", "full-time grid worker", False, False),
    ("part_time_worker", "兼职网格员", "part-time grid worker", False, False),
    ("doctor", "医生", "doctor", False, False),
    ("police", "民警", "police officer", False, False),
    ("party_member", "党员", "party member", False, False),
    ("volunteer", "志愿者", "volunteer", False, False),
    ("household_group_leader", "联户长", "household-group leader", False, False),
    ("household_representative", "户代表", "household representative", False, False),
    ("gentry", "乡贤", "local gentry", False, False),
    ("property_management", "物业", "property management", False, False),
]

POST_TYPES = [
    ("order_maintenance", "秩序维护", "order maintenance"),
    ("convenience_services", "便民服务", "convenience services"),
    ("medical_aid", "医疗救护", "medical aid"),
    ("psychological_counselling", "心理咨询", "psychological counselling"),
]

# name, description, levels, n, +K, {role: minimum or None for N}
TEMPLATES = [
    (
        "1+1+N+K",
        "宜都: 1 医生 + 1 民警 + N 网格员 + K 卡口 / Yidu: 1 doctor + 1 police + N grid workers + K checkpoints",
        [4],
        3,
        True,
        {"doctor": 1, "police": 1, "full_time_worker": None},
    ),
    (
        "五级网格长+专职+兼职+N",
        "百色: 网格长 + 专职网格员 + 兼职网格员 + N / Baise: grid chief + full-time + part-time + N",
        [1, 2, 3, 4, 5],
        1,
        False,
        {"grid_chief": 1, "full_time_worker": 1, "part_time_worker": 1, "volunteer": None},
    ),
    (
        "1+1+1+N",
        "板棍: 1 党员 + 1 网格员 + 1 户代表 + N 居民 / Bangun: party member + grid worker + household rep + N",
        [5],
        1,
        False,
        {"party_member": 1, "part_time_worker": 1, "household_representative": 1},
    ),
]


def create_reference_data(apps, schema_editor):
    Role = apps.get_model("personnel", "Role")
    PostType = apps.get_model("personnel", "PostType")
    TeamTemplate = apps.get_model("personnel", "TeamTemplate")
    TeamRequirement = apps.get_model("personnel", "TeamRequirement")
    for order, (code, zh, en, chief, leader) in enumerate(ROLES):
        Role.objects.get_or_create(
            code=code,
            defaults={
                "name_zh": zh,
                "name_en": en,
                "is_grid_chief": chief,
                "is_baobao_leader": leader,
                "sort_order": order * 10,
            },
        )
    for code, zh, en in POST_TYPES:
        PostType.objects.get_or_create(code=code, defaults={"name_zh": zh, "name_en": en})
    for name, description, levels, n, k, requirements in TEMPLATES:
        template, created = TeamTemplate.objects.get_or_create(
            name=name,
            defaults={
                "description": description,
                "levels": levels,
                "n": n,
                "requires_checkpoints": k,
            },
        )
        if created:
            for role_code, minimum in requirements.items():
                TeamRequirement.objects.create(
                    template=template, role=Role.objects.get(code=role_code), min_count=minimum
                )


class Migration(migrations.Migration):
    dependencies = [("personnel", "0001_initial")]
    operations = [migrations.RunPython(create_reference_data, migrations.RunPython.noop)]
