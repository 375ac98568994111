"""The label vocabulary every part of Borrower Voice agrees on.

Other modules, the store and the dashboard import these names; never spell a label
as a bare string elsewhere when a constant exists here.
"""

from __future__ import annotations

from pathlib import Path

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

TACTICS: tuple[str, ...] = (
    "phone_call",  # collection calls
    "sms",  # SMS, app push, WeChat messages
    "home_visit",  # any in-person visit: home, workplace, school, shop
    "third_party_contact",  # contacting/telling family, colleagues, employer, contacts list
    "contact_frequency",  # how many contacts and at what hours
    "agent_attitude",  # collector's tone, manners, patience, professionalism
    "threat_intimidation",  # threats, scare talk, 上征信 used as a weapon
    "repayment_plan",  # extension, instalments, waiver, 停催, negotiation
    "fees_transparency",  # interest, penalty, guarantee/membership fees, clarity
)

EMOTIONS: tuple[str, ...] = ("anxiety", "anger", "fear", "shame", "helplessness", "gratitude")

COMPLAINT_REASONS: tuple[str, ...] = (
    "threat",  # threats beyond a neutral notice of lawful consequences
    "insult",  # insults, abusive language
    "third_party_disclosure",  # debt disclosed to family, colleagues, employer, contacts
    "impersonation",  # posing as police, court, lawyer, government
    "off_hours",  # contact before 08:00 or late at night
    "excessive_frequency",  # harassment-level frequency
    "in_person_harassment",  # harassing visits at home / work
    "complaint_intent",  # states intent to complain or report (投诉, 举报, 12378, 报警, 黑猫)
)

REQUESTS: tuple[str, ...] = (
    "understanding",  # asks to be understood, for patience, humane treatment
    "flexible_plan",  # asks for extension, instalments, waiver, negotiation
    "fewer_contacts",  # asks for fewer calls/messages, to stop harassment
    "privacy",  # asks not to involve family / colleagues / contacts
    "fee_clarity",  # asks for clear explanation of fees/interest
)

RISK_FLAGS: tuple[str, ...] = (
    "self_harm",  # thoughts of suicide, self-harm, not wanting to live (recall-first)
    "hardship",  # cannot pay because income was lost or cut, a debt spiral, basic needs
    "health",  # illness, injury, pregnancy, disability, death or illness in the close family
    "escalation",  # complained / will complain to a regulator, police, court, media, lawyer
    "evasion",  # cutting contact or disappearing
)
"""Early-warning flags, most severe first (``nlp.risk`` holds the cues and severities)."""

TACTIC_NAMES_ZH: dict[str, str] = {
    "phone_call": "电话催收",
    "sms": "短信/消息",
    "home_visit": "上门拜访",
    "third_party_contact": "联系第三方",
    "contact_frequency": "联系频率",
    "agent_attitude": "催收员态度",
    "threat_intimidation": "威胁恐吓",
    "repayment_plan": "还款方案",
    "fees_transparency": "费用透明",
}
SENTIMENT_NAMES_ZH: dict[str, str] = {"negative": "负面", "neutral": "中性", "positive": "正面"}
EMOTION_NAMES_ZH: dict[str, str] = {
    "anxiety": "焦虑",
    "anger": "愤怒",
    "fear": "恐惧",
    "shame": "羞耻",
    "helplessness": "无助",
    "gratitude": "感激",
}
COMPLAINT_REASON_NAMES_ZH: dict[str, str] = {
    "threat": "威胁",
    "insult": "辱骂",
    "third_party_disclosure": "向第三方泄露",
    "impersonation": "冒充公检法/律师",
    "off_hours": "非规定时间联系",
    "excessive_frequency": "频繁骚扰",
    "in_person_harassment": "上门骚扰",
    "complaint_intent": "表示要投诉/举报",
}
RISK_FLAG_NAMES_ZH: dict[str, str] = {
    "self_harm": "自伤/轻生",
    "hardship": "经济困难",
    "health": "健康/疾病",
    "escalation": "投诉升级",
    "evasion": "失联风险",
}
REQUEST_NAMES_ZH: dict[str, str] = {
    "understanding": "希望被理解",
    "flexible_plan": "希望灵活还款",
    "fewer_contacts": "希望减少联系",
    "privacy": "保护隐私",
    "fee_clarity": "费用说明清楚",
}


def _rule_catalog() -> dict[str, dict[str, object]]:
    """The ``catalog`` section of ``resources/call_rules.yaml``: every compliance rule, in order."""
    import yaml

    path = Path(__file__).resolve().parent / "resources" / "call_rules.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return {str(k): dict(v) for k, v in data["catalog"].items()}


RULE_CATALOG: dict[str, dict[str, object]] = _rule_catalog()
"""Rule id -> ``{"kind": transcript|call|metadata, "name", "explanation"?, "profile_only"?}``."""

VIOLATION_RULES: tuple[str, ...] = tuple(
    rid for rid, spec in RULE_CATALOG.items() if not spec.get("profile_only")
)
"""The rules every profile checks (profile-only rules such as ``mini_miranda`` excluded)."""

VIOLATION_NAMES_ZH: dict[str, str] = {rid: str(spec["name"]) for rid, spec in RULE_CATALOG.items()}
