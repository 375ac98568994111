"""The running app in a real browser: what a manager, a researcher and a QA reviewer see.

Debian's chromium (Playwright sync API) against ``streamlit run app.py`` on a demo database
scored by the real default model (fixtures in ``conftest.py``). Screenshots go to
``test-artifacts/`` (git-ignored). The tests share one app and one database and run in file
order: the upload test adds 20 survey answers, so the overview test (3,200) comes first.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import pytest

if not Path("/usr/bin/chromium").exists():
    pytest.skip(
        "/usr/bin/chromium missing: run `make browser` (apt-get install chromium fonts-noto-cjk)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DEMO_SURVEYS = 3200 + 12  # the generated answers + the planted journeys' answers
FIRST_LOAD_MS = 120_000  # the first page of a session may load the store and run queries
RERUN_MS = 60_000
SCORING_MS = 120_000  # the first upload loads the transformer into the app process

UPLOAD_TEXTS = [
    "催收员态度很好，给我办了延期还款，非常感谢。",
    "天天打电话骚扰，还打给我家人，太过分了！",
    "客服解释得很清楚，同意分期，压力小多了。",
    "短信太多了，一天十几条，很烦。",
    "上门催收吓到孩子了，希望能协商还款计划。",
]


# --------------------------------------------------------------------------- helpers
def nav(page, title: str) -> None:
    """Go to a page with the sidebar navigation, as a person would."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()


def wait_idle(page) -> None:
    """Wait until the script is connected and not running (before clicking on a canvas)."""
    page.locator(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
        '[data-test-script-state="notRunning"]'
    ).wait_for(timeout=RERUN_MS)


def metric_value(page, label: str):
    """The value element of the st.metric with this label."""
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def read_int_metric(page, label: str) -> int:
    value = metric_value(page, label)
    expect(value).to_have_text(re.compile(r"^\d[\d,]*$"), timeout=FIRST_LOAD_MS)
    return int(value.inner_text().replace(",", ""))


def screenshot(page, name: str) -> Path:
    """A screenshot of the whole app. Streamlit scrolls inside its main container, not the
    document, so Playwright's ``full_page`` alone stops at the viewport: grow the viewport to
    the content height first, then restore it."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    size = page.viewport_size
    height = page.evaluate(
        """() => Math.max(document.body.scrollHeight,
                 ...[...document.querySelectorAll('[data-testid="stMain"], section.main')]
                     .map(e => e.scrollHeight))"""
    )
    page.set_viewport_size(
        {"width": size["width"], "height": min(max(height, size["height"]), 16_000)}
    )
    page.evaluate("() => document.fonts.ready")
    page.wait_for_timeout(300)  # one layout pass after the resize
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


def write_gbk_survey(path: Path, n: int = 20) -> Path:
    """A small survey export as a Chinese Excel would save it: GBK, Chinese headers."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["编号", "提交日期", "回答内容", "满意度", "产品", "地区"])
    for i in range(n):
        w.writerow(
            [
                f"E2E-{i:03d}",
                f"2026-11-{10 + i % 10:02d}",
                UPLOAD_TEXTS[i % len(UPLOAD_TEXTS)],
                1 + i % 5,
                ["消费贷", "信用卡分期", "经营贷"][i % 3],
                ["广东", "四川"][i % 2],
            ]
        )
    path.write_bytes(buf.getvalue().encode("gbk"))
    return path


def survey_rows(prefix: str, n: int, month: int) -> list[list]:
    """``n`` survey answers with Chinese headers first: ids ``{prefix}-000``…, dates in
    ``month`` of 2026 (so rows of different tests never count as the same answer)."""
    rows: list[list] = [["编号", "提交日期", "回答内容", "满意度", "产品", "地区"]]
    for i in range(n):
        rows.append(
            [
                f"{prefix}-{i:03d}",
                f"2026-{month:02d}-{10 + i % 10:02d}",
                UPLOAD_TEXTS[i % len(UPLOAD_TEXTS)],
                1 + i % 5,
                ["消费贷", "信用卡分期", "经营贷"][i % 3],
                ["广东", "四川"][i % 2],
            ]
        )
    return rows


def write_xlsx(path: Path, rows: list[list]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def write_gbk_csv(path: Path, rows: list[list]) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode("gbk"))
    return path


def upload(page, kind: str, path: Path) -> None:
    """On 数据上传: choose the data type and drop the file."""
    expect(page.get_by_role("heading", name="数据上传")).to_be_visible(timeout=RERUN_MS)
    radio = page.get_by_test_id("stRadio").filter(has_text="数据类型")
    radio.get_by_test_id("stRadioOption").filter(has_text=kind).click()
    expect(radio.get_by_role("radio", name=kind)).to_be_checked()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))


def cjk_fonts_installed() -> bool:
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "family"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except OSError:
        return False
    return bool(out.strip())


# --------------------------------------------------------------------------- tests
def test_overview_shows_kpis_chart_and_chinese(page, app) -> None:
    page.goto(app.url)
    expect(metric_value(page, "问卷回答")).to_have_text(f"{DEMO_SURVEYS:,}", timeout=FIRST_LOAD_MS)
    expect(metric_value(page, "通话")).to_have_text(re.compile(r"^\d[\d,]*$"))
    expect(metric_value(page, "负面占比")).to_have_text(re.compile(r"^\d+\.\d%$"))

    block = page.locator(".st-key-ov_wide_tactic")  # the chart's title sits above it as text
    expect(block.get_by_text("各催收方式的借款人情感")).to_be_visible(timeout=RERUN_MS)
    chart = block.get_by_test_id("stPlotlyChart")
    expect(chart.locator(".js-plotly-plot svg.main-svg").first).to_be_visible(timeout=RERUN_MS)
    bars = chart.locator("g.barlayer g.point path")
    expect(bars.first).to_be_visible()
    assert bars.count() >= 9, "one bar per polarity and tactic expected"

    expect(page.get_by_role("heading", name="借款人之声 · 总览")).to_be_visible()
    expect(page.get_by_text("示例数据", exact=True).first).to_be_visible()
    assert "借款人之声" in page.title()
    assert cjk_fonts_installed(), "no CJK font: run `make browser` (fonts-noto-cjk)"
    screenshot(page, "e2e-overview.png")


def test_upload_gbk_csv_reaches_the_overview(page, app, tmp_path: Path) -> None:
    csv_path = write_gbk_survey(tmp_path / "问卷-e2e.csv", 20)
    page.goto(app.url)
    before = read_int_metric(page, "问卷回答")

    nav(page, "数据上传")
    expect(page.get_by_role("heading", name="数据上传")).to_be_visible(timeout=RERUN_MS)
    kind = page.get_by_test_id("stRadio").filter(has_text="数据类型")
    kind.get_by_test_id("stRadioOption").filter(has_text="问卷回答").click()
    expect(kind.get_by_role("radio", name="问卷回答")).to_be_checked()

    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv_path))
    expect(page.get_by_role("combobox", name="回答文本")).to_have_value(
        "回答内容", timeout=RERUN_MS
    )
    expect(page.get_by_role("combobox", name="提交日期")).to_have_value("提交日期")
    expect(page.get_by_role("combobox", name="满意度(1-5)")).to_have_value("满意度")
    expect(page.get_by_text("校验通过：20 行可导入。")).to_be_visible()

    page.get_by_role("button", name="评分并导入").click()
    done = page.get_by_test_id("stAlert").filter(has_text="已导入")
    expect(done).to_be_visible(timeout=SCORING_MS)
    expect(done).to_contain_text("已导入 20 条问卷回答")
    screenshot(page, "e2e-upload.png")

    nav(page, "总览")
    expect(metric_value(page, "问卷回答")).to_have_text(f"{before + 20:,}", timeout=RERUN_MS)


def test_complaint_review_records_false_positive(page, app) -> None:
    page.goto(app.url)
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=FIRST_LOAD_MS)
    nav(page, "投诉复核")
    expect(page.get_by_role("heading", name="投诉复核")).to_be_visible(timeout=RERUN_MS)
    expect(page.get_by_text(re.compile(r"共 [\d,]+ 条投诉"))).to_be_visible(timeout=RERUN_MS)

    grid = page.get_by_test_id("stDataFrame").first.get_by_test_id("stDataFrameResizable")
    first_text = grid.get_by_test_id("glide-cell-2-0")  # the accessible copy of the canvas
    expect(first_text).not_to_be_empty(timeout=RERUN_MS)
    wait_idle(page)
    # The row-selection checkbox lives on the canvas: column 0 of the first row, under the
    # header (header and rows are 35 px high).
    grid.click(position={"x": 16, "y": 35 + 17})
    detail = page.get_by_role("heading", name=re.compile(r"^详情 · "))
    expect(detail).to_be_visible(timeout=RERUN_MS)
    first_clause = re.split(r"[，。！？；,.!?;\s]", first_text.inner_text())[0][:8]
    expect(
        page.get_by_test_id("stMarkdownContainer").filter(has_text=first_clause).first
    ).to_be_visible()

    form = page.get_by_test_id("stForm")
    form.get_by_test_id("stRadioOption").filter(has_text="误报").click()
    expect(form.get_by_role("radio", name="误报")).to_be_checked()
    form.get_by_role("button", name="提交复核").click()
    expect(page.get_by_test_id("stAlert").filter(has_text="已记录复核")).to_be_visible(
        timeout=RERUN_MS
    )
    screenshot(page, "e2e-review.png")


def test_complaint_count_equals_the_database_count(page, app) -> None:
    # the batches present before any upload test: later uploads do not change this count
    query = "&".join(f"batch={b}" for b in app.batches)
    page.goto(f"{app.url}/complaints?{query}")
    expect(page.get_by_role("heading", name="投诉复核")).to_be_visible(timeout=FIRST_LOAD_MS)
    count = page.get_by_text(re.compile(r"^共 [\d,]+ 条投诉"))
    expect(count).to_be_visible(timeout=RERUN_MS)
    shown = int(re.match(r"共 ([\d,]+)", count.inner_text())[1].replace(",", ""))
    assert app.complaints > 300  # more than the old cap of 300
    assert shown == app.complaints


def test_call_at_2330_beijing_time_shows_2330(page, app, tmp_path: Path) -> None:
    call = {
        "call_id": "E2E-TZ-1",
        "borrower_id": "B-E2E-TZ",
        "agent_id": "A-E2E-TZ",
        "team": "M1组",
        "started_at": "2026-10-12T23:30:00+08:00",  # 15:30 UTC
        "duration_s": 60,
        "outcome": "promise_to_pay",
        "turns": [
            {"speaker": "agent", "text": "您好，我是某某消费金融的催收专员，工号 1024。"},
            {"speaker": "borrower", "text": "我下周一还款。"},
        ],
    }
    path = tmp_path / "calls-tz.jsonl"
    path.write_text(json.dumps(call, ensure_ascii=False) + "\n", encoding="utf-8")
    page.goto(f"{app.url}/upload")
    upload(page, "通话转写", path)
    page.get_by_role("button", name="校验并导入").click()
    expect(page.get_by_test_id("stAlert").filter(has_text="已导入 1 条通话")).to_be_visible(
        timeout=SCORING_MS
    )

    page.goto(f"{app.url}/calls?agent=A-E2E-TZ")  # the call list, this agent only
    expect(page.get_by_role("heading", name="通话质检")).to_be_visible(timeout=FIRST_LOAD_MS)
    expect(page.get_by_text(re.compile(r"^共 1 通电话"))).to_be_visible(timeout=RERUN_MS)
    table = page.get_by_test_id("stDataFrame").filter(has_text="E2E-TZ-1")
    expect(table).to_contain_text("2026-10-12 23:30", timeout=RERUN_MS)
    assert "15:30" not in table.inner_text()


def test_same_rows_as_xlsx_then_gbk_csv_are_stored_once(page, app, tmp_path: Path) -> None:
    rows = survey_rows("DUP", 12, month=12)
    xlsx = write_xlsx(tmp_path / "问卷-dup.xlsx", rows)
    gbk = write_gbk_csv(tmp_path / "问卷-dup.csv", rows)
    page.goto(app.url)
    before = read_int_metric(page, "问卷回答")

    nav(page, "数据上传")
    upload(page, "问卷回答", xlsx)
    expect(page.get_by_text("校验通过：12 行可导入。")).to_be_visible(timeout=RERUN_MS)
    page.get_by_role("button", name="评分并导入").click()
    done = page.get_by_test_id("stAlert").filter(has_text="已导入")
    expect(done).to_contain_text("已导入 12 条问卷回答", timeout=SCORING_MS)

    upload(page, "问卷回答", gbk)  # other bytes (GBK CSV), the same answers
    expect(page.get_by_text(re.compile(r"12 行已存在，将跳过"))).to_be_visible(timeout=RERUN_MS)
    page.get_by_role("button", name="评分并导入").click()
    skipped = page.get_by_test_id("stAlert").filter(has_text="已跳过")
    expect(skipped).to_contain_text("12 行已存在，已跳过；没有新的行需要导入", timeout=SCORING_MS)

    nav(page, "总览")
    expect(metric_value(page, "问卷回答")).to_have_text(f"{before + 12:,}", timeout=RERUN_MS)


def test_reload_keeps_the_filter_in_the_url(page, app) -> None:
    page.goto(app.url)
    everyone = read_int_metric(page, "问卷回答")
    products = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect")
    products = products.filter(has_text="产品")
    products.get_by_role("combobox").click()
    product = page.get_by_role("option").filter(has_not_text="Select all").first.inner_text()
    page.get_by_role("option", name=product.strip(), exact=True).click()
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"[?&]product=[^&]+$"), timeout=RERUN_MS)  # one value
    expect(metric_value(page, "问卷回答")).not_to_have_text(f"{everyone:,}", timeout=RERUN_MS)
    wait_idle(page)
    narrowed = read_int_metric(page, "问卷回答")
    assert 0 < narrowed < everyone

    page.reload()
    expect(page).to_have_url(re.compile(r"[?&]product="))
    expect(products).to_contain_text(product.strip(), timeout=FIRST_LOAD_MS)
    expect(metric_value(page, "问卷回答")).to_have_text(f"{narrowed:,}", timeout=RERUN_MS)
