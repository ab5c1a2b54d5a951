import datetime

from personnel.rules import AssignmentFacts, check_assignments

D = datetime.date
CITY, COUNTY, TOWN = (
    "/451000000000/",
    "/451000000000/451024000000/",
    "/451000000000/451024000000/451024100000/",
)


FEB_1 = D(2022, 2, 1)


def facts(person, path, role, start=FEB_1, end=None):
    code = path.strip("/").split("/")[-1]
    return AssignmentFacts(
        person_key=person,
        grid_code=code,
        grid_path=path,
        grid_level=path.count("/") - 1,
        role_code=role,
        is_grid_chief=role == "grid_chief",
        is_baobao_leader=role == "baobao_leader",
        start_date=start,
        end_date=end,
    )


def fields(problems, index):
    return [p.field for p in problems.get(index, [])]


def test_overlapping_spans_of_same_person_grid_role():
    stored = [facts("p1", TOWN, "doctor", D(2022, 1, 1), D(2022, 1, 31))]
    assert check_assignments([facts("p1", TOWN, "doctor", D(2022, 2, 1))], stored) == {}
    problems = check_assignments([facts("p1", TOWN, "doctor", D(2022, 1, 15))], stored)
    assert fields(problems, 0) == ["start_date"]


def test_one_grid_chief_at_a_time():
    stored = [facts("p1", TOWN, "grid_chief", D(2022, 1, 1))]
    assert fields(check_assignments([facts("p2", TOWN, "grid_chief")], stored), 0) == ["role"]
    ended = [facts("p1", TOWN, "grid_chief", D(2022, 1, 1), D(2022, 1, 31))]
    assert check_assignments([facts("p2", TOWN, "grid_chief")], ended) == {}
    # two in the same batch
    problems = check_assignments(
        [facts("p2", TOWN, "grid_chief"), facts("p3", TOWN, "grid_chief")], []
    )
    assert fields(problems, 0) == ["role"] and fields(problems, 1) == ["role"]


def test_baobao_leader_comes_from_one_level_up():
    leader_of_county = facts("p1", COUNTY, "grid_chief", D(2022, 1, 1))
    assert check_assignments([facts("p1", TOWN, "baobao_leader")], [leader_of_county]) == {}
    city_chief = facts("p1", CITY, "grid_chief", D(2022, 1, 1))
    assert fields(check_assignments([facts("p1", TOWN, "baobao_leader")], [city_chief]), 0) == [
        "role"
    ]
    assert fields(
        check_assignments([facts("p9", TOWN, "baobao_leader")], [leader_of_county]), 0
    ) == ["role"]
    # the qualifying role may come in the same batch
    assert (
        check_assignments(
            [facts("p1", COUNTY, "grid_chief"), facts("p1", TOWN, "baobao_leader")], []
        )
        == {}
    )
    # nobody above a city
    assert fields(check_assignments([facts("p1", CITY, "baobao_leader")], []), 0) == ["role"]
