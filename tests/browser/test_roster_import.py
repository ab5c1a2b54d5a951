"""The roster import in a real browser: an administrator uploads a file with errors, sees
them, downloads the XLSX error report, corrects the rows (openpyxl, as a clerk would in
Excel), uploads the report itself again as a dry run, then imports it. Screenshots go to
test-artifacts/ (desktop, and the error list on a 360 px phone)."""

import csv
import io

import pytest
from openpyxl import load_workbook

from personnel.models import Assignment, Person
from tests.browser.support import ARTIFACTS, PASSWORD, watch
from tests.factories import Tree, make_user
from tests.test_personnel_import import ZH, good_rows, id_number, mobile


@pytest.fixture
def debao(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    tree = Tree()
    make_user(roles=["administrator"], jurisdiction=tree.debao, username="debao_admin")
    return tree


def bad_file(tmp_path):
    rows = good_rows() + [
        ["甲", "12345", "", "", "", "451024100001", "志愿者", "", "", "2022-02-01"],  # bad mobile
        [
            "乙",
            mobile(20),
            id_number(20),
            "",
            "",
            "451026100001",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ],  # Napo
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ZH)
    writer.writerows(rows)
    path = tmp_path / "名单.csv"
    path.write_bytes(out.getvalue().encode("gbk"))
    return path


def test_import_fix_the_report_and_import_again(browser, live_server, debao, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    problems = watch(page, live_server)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "debao_admin")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_load_state()

    # 1. Upload a file with two bad rows (dry run is ticked by default).
    page.goto(f"{live_server.url}/imports/personnel/")
    assert page.locator("#id_dry_run").is_checked()
    page.set_input_files("#id_file", str(bad_file(tmp_path)))
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("table.errors")
    errors = page.locator("table.errors tbody tr")
    assert errors.count() == 2
    texts = errors.all_inner_texts()
    assert "7" in texts[0] and "手机号" in texts[0]
    assert "8" in texts[1] and "451026100001" in texts[1]
    assert page.locator("[role=alert]").is_visible()
    assert page.locator("button.commit").count() == 0
    page.screenshot(path=str(ARTIFACTS / "roster-import-errors-desktop.png"), full_page=True)
    errors_page = page.url
    assert Person.objects.count() == 0

    # 2. Download the error report and correct it.
    with page.expect_download() as download:
        page.click("a.report")
    report = tmp_path / "report.xlsx"
    download.value.save_as(report)
    workbook = load_workbook(report)
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[0] == "错误 / Errors"
    flagged = [r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value]
    assert flagged == [7, 8]
    mobile_col = header.index("手机号") + 1
    grid_col = header.index("网格编码") + 1
    sheet.cell(7, mobile_col).value = mobile(21)
    sheet.cell(8, grid_col).value = "451024100002"
    fixed = tmp_path / "名单-已更正.xlsx"
    workbook.save(fixed)

    # 3. Upload the corrected report: a clean dry run, then import it for real.
    page.goto(f"{live_server.url}/imports/personnel/")
    page.set_input_files("#id_file", str(fixed))
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("button.commit")
    assert page.locator("table.errors").count() == 0
    assert page.locator("tr.people td").first.inner_text() == "6"
    assert Person.objects.count() == 0
    page.click("button.commit")
    page.wait_for_selector("tr.assignments")
    assert page.locator("tr.assignments td").first.inner_text() == "7"
    page.screenshot(path=str(ARTIFACTS / "roster-import-done-desktop.png"), full_page=True)
    assert Person.objects.count() == 6 and Assignment.objects.count() == 7
    assert Person.objects.get(name="甲").mobile == mobile(21)

    # 4. The error list on a phone: no sideways scrolling.
    phone = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    phone.add_cookies(context.cookies())
    mobile_page = phone.new_page()
    mobile_page.goto(errors_page)
    mobile_page.wait_for_selector("table.errors")
    width = mobile_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"
    mobile_page.screenshot(path=str(ARTIFACTS / "roster-import-errors-phone.png"), full_page=True)

    # Chromium reports a link that turns into a download as an aborted request.
    assert [p for p in problems if not p.endswith("/report/")] == []
    phone.close()
    context.close()
