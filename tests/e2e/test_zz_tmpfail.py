import pytest
pytestmark = [pytest.mark.e2e, pytest.mark.slow]
def test_zz_deliberate_failure(page, app):
    page.goto(app.url)
    page.get_by_test_id("stMetric").first.wait_for(timeout=120000)
    assert False, "deliberate"
