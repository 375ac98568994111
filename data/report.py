"""A one-click monthly summary a manager can forward: self-contained HTML, no scripts."""

from __future__ import annotations

import html
from datetime import date

import pandas as pd

from data import queries
from data.queries import Filters
from data.settings import format_display_time, settings
from data.store import Store, now
from nlp.labels import REQUEST_NAMES_ZH, TACTIC_NAMES_ZH, VIOLATION_NAMES_ZH


def _month_bounds(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(1)).date()
    return start, end


def _pct(x) -> str:
    return "—" if x is None or pd.isna(x) else f"{x * 100:.1f}%"


def _bar(share: float, color: str) -> str:
    width = max(0, min(100, round(share * 100)))
    return (
        f'<span style="display:inline-block;width:{width * 2}px;height:10px;'
        f'background:{color}"></span>'
    )


def monthly_summary_html(store: Store, month: date, base: Filters | None = None) -> str:
    """KPIs vs the previous month, sentiment by tactic, top complaints and call conduct."""
    start, end = _month_bounds(month)
    f = Filters(**{**(base.__dict__ if base else {}), "date_from": start, "date_to": end})
    prev_start, prev_end = _month_bounds((pd.Timestamp(start) - pd.Timedelta(days=1)).date())
    prev = Filters(**{**f.__dict__, "date_from": prev_start, "date_to": prev_end})
    k, kp = queries.kpis(store, f)["current"], queries.kpis(store, prev)["current"]
    tactics = queries.sentiment_by_tactic(store, f)
    rows = []
    if not tactics.empty:
        pv = tactics.pivot_table(
            index="tactic", columns="polarity", values="n", aggfunc="sum", fill_value=0
        )
        total = pv.sum(axis=1)
        neg = (pv.get("negative", 0) / total).sort_values(ascending=False)
        for tactic, share in neg.items():
            rows.append(
                f"<tr><td>{html.escape(TACTIC_NAMES_ZH.get(tactic, tactic))}</td>"
                f"<td>{int(total[tactic]):,}</td><td>{_pct(share)} "
                f"{_bar(share, '#c8553d')}</td></tr>"
            )
    complaints = queries.complaint_queue(store, f, limit=5)
    quotes = "".join(f"<li>{html.escape(str(t)[:160])}</li>" for t in complaints["text"])
    viol = queries.violation_outcomes(store, f)
    viol_rows = "".join(
        f"<tr><td>{html.escape(VIOLATION_NAMES_ZH.get(r.rule, r.rule))}</td><td>{int(r.calls):,}</td>"
        f"<td>{_pct(r.promise_rate)}</td></tr>"
        for r in viol.itertuples()
    )

    def kpi(label: str, key: str, fmt=_pct) -> str:
        return (
            f"<div class='k'><div class='l'>{label}</div><div class='v'>{fmt(k[key])}</div>"
            f"<div class='p'>上月 {fmt(kp[key])}</div></div>"
        )

    count = lambda v: "—" if v is None else f"{int(v):,}"  # noqa: E731
    made = f"{format_display_time(now(), '%Y-%m-%d %H:%M')}（{settings().display_tz}）"
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>借款人之声 · {start:%Y年%m月} 月度摘要</title>
<style>body{{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
max-width:820px;margin:24px auto;color:#1f2a30}} .ks{{display:flex;gap:12px;flex-wrap:wrap}}
.k{{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:140px}}
.l{{color:#666;font-size:13px}} .v{{font-size:24px;font-weight:600}} .p{{color:#888;font-size:12px}}
table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #eee;padding:6px;
text-align:left}}</style></head><body>
<h1>借款人之声 · {start:%Y年%m月} 月度摘要</h1>
<p>统计区间 {start} 至 {end}；对比上月 {prev_start} 至 {prev_end}。</p>
<div class="ks">{kpi("问卷回答", "n", count)}{kpi("负面占比", "negative_share")}
{kpi("投诉率", "complaint_rate")}
{kpi(REQUEST_NAMES_ZH["understanding"] + "/" + REQUEST_NAMES_ZH["flexible_plan"], "wants_flexibility")}</div>
<h2>各催收方式的负面占比</h2><table><tr><th>催收方式</th><th>提及</th><th>负面占比</th></tr>
{"".join(rows)}</table>
<h2>通话违规与承诺还款率</h2><table><tr><th>违规类型</th><th>通话数</th><th>承诺还款率</th></tr>
{viol_rows}</table>
<h2>本月最严重的投诉（节选）</h2><ol>{quotes}</ol>
<p style="color:#888;font-size:12px">由借款人之声于 {made}自动生成。情感与投诉标签来自模型，人工复核结果优先。</p>
</body></html>"""
