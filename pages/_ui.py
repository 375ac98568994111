"""Thin UI layer shared by the pages: cached resources, the sidebar filters, formatting.

The only module besides the pages that imports streamlit. Domain logic stays in
``nlp`` and ``data``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from data import access, auth, queries
from data.auth import Actor
from data.queries import Filters
from data.settings import settings
from data.store import Store, open_store
from nlp.labels import (
    COMPLAINT_REASON_NAMES_ZH,
    EMOTION_NAMES_ZH,
    REQUEST_NAMES_ZH,
    SENTIMENT_NAMES_ZH,
    TACTIC_NAMES_ZH,
    VIOLATION_NAMES_ZH,
)

SENTIMENT_COLORS = {"negative": "#c8553d", "neutral": "#b8b8b0", "positive": "#3b8f6e"}
BG_TINT = {"negative": "#fbe9e5", "neutral": "#f3f3f0", "positive": "#e6f3ec"}


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """The process-wide DuckDB store (opened and migrated once)."""
    return open_store()


# --------------------------------------------------------------------------- who is using it
def auth_enabled() -> bool:
    """False only for a single-user local install (``BV_AUTH=off``)."""
    return settings().auth


def session_actor() -> Actor | None:
    """The logged-in actor (role as the auth file says now), or None before login.

    With ``BV_AUTH=off`` everyone is ``auth.LOCAL_ACTOR`` (an admin).
    """
    if not auth_enabled():
        return auth.LOCAL_ACTOR
    user = st.session_state.get("bv_user")
    found = auth.current_actor(settings().auth_file, user) if user else None
    if user and found is None:  # removed from the auth file meanwhile
        st.session_state.pop("bv_user", None)
    return found


def actor() -> Actor:
    """The current actor; stops the page when nobody is logged in."""
    who = session_actor()
    if who is None:
        st.warning("请先登录。")
        st.stop()
    return who


def require(permission: str) -> Actor:
    """The first call of every page: the actor, or the page stops here.

    ``st.navigation`` already leaves out pages a role may not use; this also covers a page that
    runs without app.py (Streamlit runs ``pages/*.py`` directly until the first
    ``st.navigation`` call of a fresh server process).
    """
    who = session_actor()
    if who is None:
        ensure_admin_account()
        st.warning("请先登录。")
        st.link_button("前往登录", "./")
        st.stop()
    if not who.can(permission):
        st.error(f"角色「{who.role_name}」无权访问此页面。")
        st.stop()
    return who


def current_user() -> str:
    return actor().user


def ensure_admin_account() -> None:
    """First start with login on: create ``admin`` (one-time password on the console)."""
    cfg = settings()
    try:
        auth.ensure_admin(cfg.auth_file, store(), cfg.admin_password)
    except auth.AuthError as exc:  # BV_ADMIN_PASSWORD too short or too long
        st.error(f"无法创建管理员账号（BV_ADMIN_PASSWORD）：{exc}")
        st.stop()


def login(username: str, password: str) -> bool:
    """Check the password (audited either way); on success the session is logged in."""
    who = auth.authenticate(store(), settings().auth_file, username, password)
    if who is None:
        return False
    st.session_state["bv_user"] = who.user
    return True


def _logout() -> None:
    who = session_actor()
    if who is not None and auth_enabled():
        auth.log_logout(store(), who)
    st.session_state.clear()  # filters, selections and any revealed text go with the user


def account_sidebar(who: Actor) -> None:
    """Who is logged in, log out, change password; or the BV_AUTH=off notice."""
    with st.sidebar:
        if not auth_enabled():
            st.caption(
                "🔓 **未启用登录**（BV_AUTH=off）：单用户本地模式，以管理员身份运行。"
                "多人使用请启用登录。"
            )
            return
        st.caption(f"👤 {who.user} · {who.role_name}")
        path = settings().auth_file
        if auth.must_change_password(path, who.user):
            st.warning("您正在使用一次性密码，请尽快修改。", icon="🔑")
        with st.expander("账号"):
            with st.form("acct_pw", clear_on_submit=True):
                old = st.text_input("当前密码", type="password", key="acct_old")
                new = st.text_input(
                    f"新密码（至少 {auth.MIN_PASSWORD_LEN} 位）", type="password", key="acct_new"
                )
                again = st.text_input("再次输入新密码", type="password", key="acct_again")
                if st.form_submit_button("修改密码"):
                    try:
                        if new != again:
                            raise auth.AuthError("两次输入的新密码不一致")
                        auth.change_password(store(), path, who, old, new)
                        st.success("密码已修改。")
                    except auth.AuthError as exc:
                        st.error(str(exc))
            st.button("退出登录", key="acct_logout", on_click=_logout)


def revealed_response_text(response_id: str, masked_text: str, key: str) -> str:
    """The masked text, or the original after an explicit 显示原文 (qa/admin; audited)."""
    return _reveal(
        "response",
        response_id,
        masked_text,
        key,
        lambda: access.reveal_response(store(), actor(), response_id),
    )


def revealed_call_turns(call_id: str, key: str) -> pd.DataFrame:
    """A call's masked turns, or the original turns after 显示原文 (qa/admin; audited)."""
    return _reveal(
        "call",
        call_id,
        store_call_turns(call_id),
        key,
        lambda: access.reveal_call_turns(store(), actor(), call_id),
    )


def _reveal(kind: str, target: str, masked, key: str, fetch):
    who = actor()
    if not who.can("reveal_pii"):
        st.caption("个人信息已脱敏。")
        return masked
    shown = st.session_state.setdefault("bv_revealed", {})
    if (kind, target) in shown:
        c1, c2 = st.columns([4, 1])
        c1.caption("🔓 正在显示原文（已记入审计日志）。")
        if c2.button("隐藏原文", key=f"{key}_hide"):
            shown.pop((kind, target), None)
            st.rerun()
        return shown.get((kind, target), masked)
    c1, c2 = st.columns([4, 1])
    c1.caption("个人信息已脱敏。")
    if c2.button("显示原文", key=f"{key}_show", help="显示未脱敏的原文；每次都会记入审计日志"):
        shown[(kind, target)] = fetch()  # checks the role again and writes the audit entry
        st.rerun()
    return masked


def data_changed() -> None:
    """Call after any write so every cached query is recomputed."""
    st.cache_data.clear()


@st.cache_data(ttl=300, show_spinner=False)
def cached(name: str, filters: dict, **kwargs):
    """Run ``data.queries.<name>(store, Filters(**filters), **kwargs)`` with caching."""
    return getattr(queries, name)(store(), Filters(**filters), **kwargs)


def q(name: str, f: Filters, **kwargs):
    """Cached query call with a Filters object."""
    return cached(name, asdict(f), **kwargs)


@st.cache_data(ttl=300, show_spinner=False)
def filter_options() -> dict:
    return queries.filter_options(store())


FILTER_KEYS = (
    "flt_dates",
    "flt_products",
    "flt_regions",
    "flt_channels",
    "flt_buckets",
    "flt_batches",
    "flt_reviews",
)


def sidebar_filters() -> Filters:
    """Sidebar filters, kept across pages in session state (keys prefixed ``flt_``)."""
    opts = filter_options()
    lo, hi = opts["date_range"]
    hi_d = pd.Timestamp(hi).date() if pd.notna(hi) else date.today()
    lo_d = pd.Timestamp(lo).date() if pd.notna(lo) else hi_d - timedelta(days=365)
    for key in FILTER_KEYS:  # keep the choices when the user moves to another page
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    with st.sidebar:
        st.markdown("#### 筛选")
        if "flt_dates" not in st.session_state:
            st.session_state["flt_dates"] = (lo_d, hi_d)
        dates = st.date_input(
            "日期范围",
            key="flt_dates",
            min_value=lo_d - timedelta(days=366),
            max_value=hi_d + timedelta(days=366),
        )
        products = st.multiselect("产品", opts["product"], key="flt_products", placeholder="全部")
        regions = st.multiselect("地区", opts["region"], key="flt_regions", placeholder="全部")
        channels = st.multiselect(
            "催收渠道", opts["channel"], key="flt_channels", placeholder="全部"
        )
        buckets = st.multiselect(
            "逾期阶段", opts["overdue_bucket"], key="flt_buckets", placeholder="全部"
        )
        batches = st.multiselect(
            "上传批次",
            opts["batches"],
            key="flt_batches",
            placeholder="全部",
            format_func=lambda b: b.split("|", 1)[-1],
        )
        use_reviews = st.toggle(
            "采用人工复核结果", value=True, key="flt_reviews", help="关闭后只看模型原始判断"
        )
    d_from, d_to = dates if isinstance(dates, tuple | list) and len(dates) == 2 else (lo_d, hi_d)
    return Filters(
        date_from=d_from,
        date_to=d_to,
        products=tuple(products),
        regions=tuple(regions),
        channels=tuple(channels),
        buckets=tuple(buckets),
        batches=tuple(b.split("|", 1)[0] for b in batches),
        use_reviews=use_reviews,
    )


def demo_banner() -> None:
    """A visible 示例数据 marker while demo batches are stored."""
    from data.demo_loader import has_demo

    if has_demo(store()):
        st.info(
            "当前显示的是 **示例数据**（程序生成，仅供体验）。上传真实数据后，可在「数据上传」页一键移除。",
            icon="🧪",
        )


# --------------------------------------------------------------------------- formatting
def fmt_int(n) -> str:
    return "—" if n is None or pd.isna(n) else f"{int(n):,}"


def fmt_pct(x, digits: int = 1) -> str:
    return "—" if x is None or pd.isna(x) else f"{x * 100:.{digits}f}%"


def fmt_num(x, digits: int = 2) -> str:
    return "—" if x is None or pd.isna(x) else f"{x:.{digits}f}"


def zh_list(values, names: dict[str, str]) -> str:
    if values is None or isinstance(values, float | str):
        return ""
    return "、".join(names.get(v, v) for v in list(values))


def zh_aspects(aspects) -> str:
    import json

    if isinstance(aspects, str):
        aspects = json.loads(aspects or "{}")
    if not aspects:
        return ""
    return "；".join(
        f"{TACTIC_NAMES_ZH.get(k, k)}:{SENTIMENT_NAMES_ZH.get(v, v)}" for k, v in aspects.items()
    )


def records_for_display(df: pd.DataFrame) -> pd.DataFrame:
    """Chinese column names and labels for a records table."""
    if df.empty:
        return df
    out = pd.DataFrame(
        {
            "日期": pd.to_datetime(df["submitted_at"]).dt.date,
            "回答": df["text"],
            "情感": df["sentiment"].map(SENTIMENT_NAMES_ZH),
            "情感分": df["sentiment_score"].round(2),
            "催收方式": df["aspects"].map(zh_aspects),
            "情绪": df["emotions"].map(lambda v: zh_list(v, EMOTION_NAMES_ZH)),
            "投诉": df["complaint"].map({True: "是", False: ""}),
            "投诉原因": df["complaint_reasons"].map(
                lambda v: zh_list(v, COMPLAINT_REASON_NAMES_ZH)
            ),
            "诉求": df["requests"].map(lambda v: zh_list(v, REQUEST_NAMES_ZH)),
            "产品": df["product"],
            "地区": df["region"],
            "逾期": df["overdue_bucket"],
            "满意度": df["csat"],
            "编号": df["response_id"],
        }
    )
    return out


def _log_export(name: str, fmt: str, rows: int) -> None:
    who = session_actor()
    if who is not None:
        access.log_export(store(), who, name, fmt, rows)


def download_buttons(df: pd.DataFrame, name: str, key: str) -> None:
    """CSV (UTF-8 BOM) and XLSX downloads of a table: personal data masked, formula cells
    neutralised, each download written to the audit log."""
    from data.exports import to_csv_bytes, to_xlsx_bytes

    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button(
        "下载 CSV",
        to_csv_bytes(df),
        f"{name}.csv",
        "text/csv",
        key=f"{key}_csv",
        on_click=_log_export,
        args=(name, "csv", len(df)),
    )
    c2.download_button(
        "下载 Excel",
        to_xlsx_bytes(df),
        f"{name}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        on_click=_log_export,
        args=(name, "xlsx", len(df)),
    )


# HTML and markdown syntax characters as numeric entities, in one pass: inside
# st.markdown(..., unsafe_allow_html=True) an uploaded "<script>", "[x](javascript:...)",
# "![](http://tracker)", "$...$" or "**" stays plain text.
_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-.!|~$:="})


def escape(text: str) -> str:
    """Text from uploads made inert before markup is built around it: HTML and markdown syntax
    as entities, line breaks as <br> (so a blank line cannot end an HTML block)."""
    out = str(text).translate(_ENTITIES)
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def tinted(text: str, sentiment: str | None) -> str:
    """An escaped text span tinted by sentiment (safe to pass to st.markdown html)."""
    color = BG_TINT.get(sentiment or "neutral", "#f3f3f0")
    return (
        f'<span style="background:{color};padding:2px 4px;border-radius:4px;'
        f'line-height:1.9">{escape(text)}</span>'
    )


def ensure_data() -> None:
    """On first start with an empty store, load the demo dataset with a progress bar."""
    from data.demo_loader import ensure_demo, has_data

    if st.session_state.get("bv_data_checked"):
        return
    s = store()
    if settings().demo and not has_data(s):
        bar = st.progress(0.0, text="首次启动：正在为示例数据评分……")

        def progress(done: int, total: int) -> None:
            bar.progress(
                min(1.0, done / max(total, 1)),
                text=f"首次启动：正在为示例数据评分 {done:,}/{total:,}",
            )

        ensure_demo(s, progress=progress)
        bar.empty()
        data_changed()
    st.session_state["bv_data_checked"] = True


RULE_NAMES_ZH = VIOLATION_NAMES_ZH


def keywords_panel(f: Filters, drill: dict, rows: pd.DataFrame) -> None:
    """Top jieba keywords of the selected segment and terms rising vs the previous period."""
    from nlp.keywords import rising_terms, top_keywords

    with st.expander("关键词：所选记录的高频词与上升词", expanded=False):
        c1, c2 = st.columns(2)
        top = top_keywords(rows["text"].tolist(), 15) if not rows.empty else []
        c1.markdown("**高频词**")
        c1.dataframe(
            pd.DataFrame(top, columns=["词", "出现条数"]), hide_index=True, width="stretch"
        )
        prev = f.previous_period()
        c2.markdown("**较上一周期上升的词**")
        if prev is None:
            c2.caption("选择日期范围后可比较。")
            return
        cur_rows = q("records", f, limit=5000, **drill)
        prev_rows = q(
            "records",
            prev,
            limit=5000,
            **{k: v for k, v in drill.items() if k not in ("period", "freq")},
        )
        rising = rising_terms(cur_rows["text"].tolist(), prev_rows["text"].tolist())
        c2.dataframe(
            pd.DataFrame(rising, columns=["词", "本期条数", "增长倍数"]),
            hide_index=True,
            width="stretch",
        )


def highlighted_text(text: str) -> str:
    """Escaped text, clauses tinted by polarity and tactic words in bold (safe HTML)."""
    from nlp.highlight import tactic_spans
    from nlp.feedback import analyze

    analysis = analyze(text)
    parts = []
    for clause, score in zip(analysis.clauses, analysis.clause_scores, strict=True):
        label = "negative" if score < -0.15 else "positive" if score > 0.15 else "neutral"
        pieces, last = [], 0
        for start, end, tactic in tactic_spans(clause):
            pieces.append(escape(clause[last:start]))
            pieces.append(
                f'<b title="{escape(TACTIC_NAMES_ZH.get(tactic, tactic))}" '
                f'style="border-bottom:2px solid #2f6f8f">{escape(clause[start:end])}</b>'
            )
            last = end
        pieces.append(escape(clause[last:]))
        color = BG_TINT[label]
        parts.append(
            f'<span style="background:{color};padding:2px 4px;border-radius:4px;'
            f'line-height:2">{"".join(pieces)}</span>'
        )
    legend = (
        '<div style="font-size:0.8em;color:#666;margin-top:4px">底色：'
        f'<span style="background:{BG_TINT["negative"]}">负面</span> '
        f'<span style="background:{BG_TINT["neutral"]}">中性</span> '
        f'<span style="background:{BG_TINT["positive"]}">正面</span>；'
        "下划线粗体为催收方式用词</div>"
    )
    return '<div style="font-size:1.05em">' + " ".join(parts) + "</div>" + legend


@st.cache_data(ttl=300, show_spinner=False)
def store_call_turns(call_id: str) -> pd.DataFrame:
    return queries.call_turns(store(), call_id)


def conversation_html(turns: pd.DataFrame, evidence: list[dict]) -> str:
    """A call as a chat: turns tinted by sentiment, violating spans marked with the rule."""
    by_turn: dict[int, list[dict]] = {}
    for e in evidence:
        if e.get("turn") is not None:
            by_turn.setdefault(int(e["turn"]), []).append(e)
    rows = []
    for t in turns.itertuples():
        text = escape(t.text)
        notes = []
        for e in by_turn.get(int(t.turn_index), []):
            span = escape(e.get("span") or "")
            if span and span in text:
                text = text.replace(span, f'<mark style="background:#f6c9bd">{span}</mark>', 1)
            notes.append(
                f'<div style="color:#a33;font-size:0.85em">⚠ '
                f"{escape(RULE_NAMES_ZH.get(e['rule'], e['rule']))}："
                f"{escape(e.get('explanation', ''))}</div>"
            )
        agent = t.speaker == "agent"
        color = BG_TINT.get(t.sentiment or "neutral", "#f3f3f0")
        align = "flex-start" if agent else "flex-end"
        who = "坐席" if agent else "借款人"
        rows.append(
            f'<div style="display:flex;justify-content:{align};margin:4px 0">'
            f'<div style="max-width:80%;background:{color};padding:6px 10px;border-radius:8px">'
            f'<div style="font-size:0.75em;color:#666">{who} · 第 {t.turn_index} 轮</div>'
            f"{text}{''.join(notes)}</div></div>"
        )
    return "".join(rows)
