"""Deterministic demo dataset: survey responses, collection calls and their turns.

The dashboard shows this data on first start, before anyone has imported real records. Texts
are composed from many hand-written Chinese fragments (openers, experiences per tactic and
polarity, feelings, requests, closers; call stages per agent behaviour) with a seeded RNG, then
roughened with typos, homophones, pinyin shorthand, emoji and some Traditional characters.
Pure Python and pandas: no streamlit, no model calls.

Planted relationships a manager can discover (checked by ``tests/data/test_demo.py``):

1. Responses about third-party contact or threats are far more often negative, with lower CSAT,
   than responses about repayment plans.
2. Calls in which the agent offers a plan (延期/分期/减免罚息/停催/协商) end in
   ``promise_to_pay`` much more often.
3. Four of the 24 agents (``VIOLATING_AGENTS``) account for most rule violations.
4. One month (``harsh_campaign_month(today)``, 2026-06 by default) has more calls and a clearly
   higher share of negative responses (threats, third-party contact, frequency).
5. CSAT follows how positive the experience was; M3+ is more negative than M1.

Example:
    >>> demo = generate_demo()
    >>> len(demo.surveys), demo.calls["agent_id"].nunique()
    (3200, 24)
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import NamedTuple

import pandas as pd

from nlp.labels import EMOTIONS, REQUESTS, VIOLATION_RULES

DEFAULT_SEED = 20261128
DEFAULT_TODAY = date(2026, 11, 28)
TIMEZONE = "Asia/Shanghai"
ORGANISATION = "安信消费金融"

PRODUCTS: tuple[str, ...] = ("个人消费贷", "信用卡分期", "企业经营贷")
OVERDUE_BUCKETS: tuple[str, ...] = ("M1", "M2", "M3+")
CHANNELS: tuple[str, ...] = ("电话", "短信", "上门", "APP/微信")
OUTCOMES: tuple[str, ...] = ("promise_to_pay", "refused", "no_commitment", "paid", "wrong_party")
REGIONS: tuple[str, ...] = (
    "广东", "浙江", "四川", "河南", "山东", "江苏", "湖北", "北京", "上海", "福建",
)  # fmt: skip

SURVEY_COLUMNS: tuple[str, ...] = (
    "response_id", "respondent_id", "submitted_at", "product", "region", "overdue_bucket",
    "channel", "csat", "nps", "text",
)  # fmt: skip
CALL_COLUMNS: tuple[str, ...] = (
    "call_id", "borrower_id", "agent_id", "agent_name", "team", "started_at", "duration_s",
    "outcome", "product", "overdue_bucket",
)  # fmt: skip
TURN_COLUMNS: tuple[str, ...] = ("call_id", "turn_index", "speaker", "text", "start_s", "end_s")

_AGENT_NAMES = (
    "王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周婷", "吴涛", "徐丽",
    "孙浩", "胡军", "朱琳", "高峰", "林晓燕", "何勇", "郭佳", "马超", "罗丹", "梁宇", "宋雪",
    "郑凯", "谢磊",
)  # fmt: skip
TEAMS: tuple[str, ...] = ("华南一组", "华南二组", "华东组", "西南组")
#: (agent_id, agent_name, team) for the 24 demo agents, six per team.
AGENTS: tuple[tuple[str, str, str], ...] = tuple(
    (f"A{i + 1:02d}", name, TEAMS[i // 6]) for i, name in enumerate(_AGENT_NAMES)
)
#: The agents who concentrate violations, each with a "signature" of rule ids.
VIOLATING_AGENTS: tuple[str, ...] = ("A08", "A11", "A16", "A21")

# How often an agent's call breaks a rule, and which rules (weights).
_AGENT_PROFILES: dict[str, tuple[float, dict[str, int]]] = {
    "A08": (0.75, {"threat": 4, "insult": 4, "third_party_disclosure": 1, "off_hours": 1}),
    "A11": (0.5, {"new_debt": 4, "insult": 2, "threat": 1, "no_identity_disclosure": 2}),
    "A16": (0.75, {"impersonation": 4, "misleading": 3, "third_party_disclosure": 2, "threat": 1}),
    "A21": (
        0.75,
        {"off_hours": 4, "no_identity_disclosure": 2, "third_party_disclosure": 3, "insult": 1},
    ),
}
_DEFAULT_PROFILE: tuple[float, dict[str, int]] = (
    0.03,
    {"no_identity_disclosure": 3, "misleading": 2, "off_hours": 1},
)
_OVER_FREQUENCY_AGENTS = ("A08", "A21", "A11")

_CAMPAIGN_MONTHS_BEFORE = 5  # 2026-06 for the default today 2026-11-28


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DemoData:
    """The demo frames, plus generation ground truth for tests.

    Attributes:
        surveys: one row per survey response (columns ``SURVEY_COLUMNS``).
        calls: one row per call (columns ``CALL_COLUMNS``).
        turns: one row per call turn (columns ``TURN_COLUMNS``).
        truth: generation ground truth per response, keyed by ``response_id``: ``sentiment``
            (planned), ``positivity`` (-1..1), ``tactics`` and aligned ``polarities`` (-1/0/1),
            ``emotions``, ``requests`` (label ids from ``nlp.labels``), ``complaint``,
            ``traditional``, ``campaign``. For tests and model evaluation only; never show it.
        call_truth: the same per call, keyed by ``call_id``: ``plan_offered``, ``violations``
            (``VIOLATION_RULES`` ids), ``asr`` (ASR-flavoured transcript), ``campaign``.
    """

    surveys: pd.DataFrame
    calls: pd.DataFrame
    turns: pd.DataFrame
    truth: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    call_truth: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


def harsh_campaign_month(today: date | None = None) -> pd.Period:
    """The month of the planted "harsh campaign" (2026-06 for the default ``today``)."""
    today = today or DEFAULT_TODAY
    return pd.Period(today, freq="M") - _CAMPAIGN_MONTHS_BEFORE


def generate_demo(
    seed: int = DEFAULT_SEED,
    n_surveys: int = 3200,
    n_calls: int = 360,
    today: date | None = None,
) -> DemoData:
    """Generate the demo dataset; the same arguments always give identical frames.

    Args:
        seed: RNG seed.
        n_surveys: number of survey responses, spread over the 365 days before ``today``.
        n_calls: number of calls (8-30 turns each), over the same period.
        today: the day the data ends (exclusive); defaults to 2026-11-28 so output is fixed.

    Returns:
        DemoData with ``surveys``, ``calls``, ``turns`` and the ground-truth frames.

    Example:
        >>> demo = generate_demo(n_surveys=50, n_calls=20)
        >>> demo.turns.groupby("call_id").size().between(8, 30).all()
        np.True_
    """
    if n_surveys < 1 or n_calls < 1:
        raise ValueError(f"n_surveys and n_calls must be positive, got {n_surveys}, {n_calls}")
    today = today or DEFAULT_TODAY
    campaign = harsh_campaign_month(today)
    surveys, truth = _generate_surveys(random.Random(seed), n_surveys, today, campaign)
    calls, turns, call_truth = _generate_calls(random.Random(seed + 1), n_calls, today, campaign)
    return DemoData(surveys, calls, turns, truth, call_truth)


# --------------------------------------------------------------------------------------------
# Survey fragments
# --------------------------------------------------------------------------------------------

# Slot values, drawn once per text ({rel} twice in one fragment is the same person).
_SLOTS: dict[str, tuple[str, ...]] = {
    "rel": (
        "我妈", "我爸", "我老婆", "我老公", "我姐", "我哥", "我对象", "我婆婆", "我舅舅",
        "我爸妈", "我岳父", "我表姐",
    ),
    "work": ("我领导", "我们主管", "公司HR", "我老板", "我们组长", "公司前台", "我们经理"),
    "n": ("五", "七", "八", "十几", "二十多", "三十多", "十来", "好几十"),
    "late": (
        "晚上十一点多", "半夜十二点", "凌晨一点", "早上六点多", "早上七点不到", "晚上十点半",
        "凌晨两点", "大半夜",
    ),
    "days": ("三天", "一周", "十来天", "半个月", "一个多月", "两个月", "快三个月", "二十天"),
    "amt": ("两千", "三千五", "五千多", "八千", "一万二", "两万", "四千", "六千块", "一千五"),
    "k": ("六", "十二", "三", "九", "二十四"),
    "agent": ("小姑娘", "小伙子", "专员", "客服", "女生", "男生", "王姐", "小李"),
    "honorific": ("先生", "女士", "姐", "哥"),
    "insult": ("“连这点钱都还不起还借什么”", "“装什么穷”", "“老赖就是老赖”", "“脸都不要了”"),
}  # fmt: skip

#: Experience fragments per tactic and polarity (-1 negative, 0 neutral, 1 positive).
EXPERIENCES: dict[str, dict[int, tuple[str, ...]]] = {
    "phone_call": {
        1: (
            "打电话来的那个{agent}说话挺客气，先报了公司名和工号",
            "电话里讲得很清楚，欠多少、逾期几天、怎么还都说明白了",
            "接电话的时候我挺紧张，结果对方语气很平和，没有为难我",
            "上周接了个催收电话，问我最近是不是有困难，听着挺舒服",
            "电话沟通还算顺利，十来分钟就把事情说清了",
            "每次打电话都是同一个人跟进，不用我重复解释，这点挺好",
            "电话打来先确认是不是本人，没跟别人乱说",
            "电话那头耐心听我讲完，一次都没打断",
        ),
        0: (
            "就是正常的催收电话，提醒我还款日期，顺便说了逾期会影响征信",
            "接过几次电话，问我什么时候能还，我说月底",
            "电话里就是核对了一下欠款金额",
            "打电话过来说了下逾期的情况，没别的",
            "电话一般是下午打来，说两句就挂了",
            "电话有接有没接，接了就是问还款时间",
            "有个电话是机器人打的，听完提示就挂了",
            "打过两次电话，都是念一遍欠款",
        ),
        -1: (
            "催收电话一接通就开始吼，问我到底还不还",
            "打电话过来语气很冲，根本不让我说话",
            "电话里阴阳怪气的，说我{insult}",
            "电话接起来先没人说话，过几秒才开始念欠款，跟诈骗电话一样",
            "每次打电话来都换个人，每个都要我从头解释一遍",
            "我在开会，催收电话一直打，挂了又打",
            "电话里说话很难听，我听完手都在抖",
            "打电话来也不说是哪家公司的，上来就问我钱呢",
        ),
    },
    "sms": {
        1: (
            "短信提醒写得挺清楚，还款金额和日期都有",
            "APP里推送了还款提醒，还附了申请延期的入口，挺方便",
            "微信上的客服回复还算及时，截图也发得明白",
            "短信语气比较客气，只是提醒，没有吓人的话",
            "收到的短信里留了官方客服电话，我打过去核实是真的",
            "APP消息里把几种还款方式都列出来了，一看就懂",
        ),
        0: (
            "每个月会收到几条短信提醒",
            "短信就是模板，写着欠款多少请尽快处理",
            "APP里有红点提示逾期，点进去就是账单",
            "微信加了一个说是专员的，偶尔发消息问进度",
            "短信收到了，内容没细看",
            "APP推送一天一条，习惯了",
        ),
        -1: (
            "短信里写什么“已移交法务”“即将上门核实”，吓死人",
            "一天收到{n}条短信，一条比一条吓人",
            "短信里直接叫我老赖，我看了特别难受",
            "微信上发我身份证照片，说要发到群里",
            "短信说已经立案了，我去查根本没有",
            "APP推送半夜也在响，写着“最后通牒”",
            "收到冒充律师事务所的短信，说要起诉我",
        ),
    },
    "home_visit": {
        1: (
            "上门的两个工作人员出示了工作证，说话很客气",
            "上门之前先打电话约了时间，没有突然出现",
            "上门的人就在门口说了几句，没让邻居知道",
            "上门来的人帮我一起算每个月能还多少，感觉是来解决问题的",
        ),
        0: (
            "有人上门核实过一次地址",
            "说是外访，上门看了一眼就走了",
            "上门的人留了一张联系卡",
            "他们上门去过我老家一次，家里说就问了问",
        ),
        -1: (
            "直接跑到我公司楼下堵我，同事都看见了",
            "晚上九点多上门敲门，敲了半个小时，孩子吓哭了",
            "上门在我家门上贴纸，写着欠钱不还",
            "上门的几个人纹着身，站在门口就是不走",
            "跑到我店里当着顾客的面要钱",
            "说明天就上门，我一晚上没睡着",
            "上门去了我老家村里，满村都知道我欠钱了",
        ),
    },
    "third_party_contact": {
        1: (
            "他们一直只联系我本人，没有打扰家里人，这点我很感谢",
            "我问会不会打给{rel}，对方说不会，也确实没打",
            "填的紧急联系人他们没有乱打，只在找不到我时问过一次",
            "专员说他们不会联系我单位，让我放心，确实没联系",
        ),
        0: (
            "听说他们给{rel}打过一次电话，只是问能不能联系上我",
            "紧急联系人那边接过一次电话，没说什么具体的",
            "不知道有没有联系别人，反正{rel}没跟我提",
            "他们问了我的工作单位，我没说",
        ),
        -1: (
            "给{rel}打电话说我欠钱不还，{rel}哭着打电话问我",
            "把我通讯录的人都打了一遍，连多年没联系的同学都知道了",
            "打到{work}那里去了，现在在单位抬不起头",
            "在我们家族群里发我欠款的截图",
            "给{work}打电话，说我是骗子",
            "{rel}身体不好，他们还一直打给{rel}",
            "爆通讯录，亲戚朋友都收到了短信",
            "打给我前同事问我住哪，我都离职两年了",
        ),
    },
    "contact_frequency": {
        1: (
            "联系频率还算合理，一周一两次",
            "我说了每周三方便接电话，他们就只在周三打",
            "申请停催以后真的安静了一个月，频率降下来了",
            "都是白天上班时间打，没有半夜打扰",
        ),
        0: (
            "一般一天一个电话",
            "大概隔两三天打一次",
            "最近打得少了一些",
            "电话不算多，但短信每天都有",
        ),
        -1: (
            "一天打了{n}个电话，根本没法上班",
            "{late}还在打电话",
            "从早上八点打到晚上十点，一个小时一个",
            "换着号码打，拉黑一个又来一个",
            "{late}发短信，我整晚都睡不着",
            "手机都不敢开机，一开就是几十个未接",
            "连续{days}每天都打，一天好几次",
        ),
    },
    "agent_attitude": {
        1: (
            "这个催收员很有耐心，听我讲完家里的情况",
            "那个{agent}说话很温和，还安慰我别着急",
            "态度很专业，没有一句难听的话",
            "对方很尊重人，一直客客气气叫我{honorific}",
            "这次的专员态度挺好的，说会帮我想办法",
        ),
        0: (
            "态度一般吧，公事公办",
            "说话语气没什么感情，就是念流程",
            "有的人态度好，有的人态度差，看运气",
            "对方语速很快，态度说不上好坏",
        ),
        -1: (
            "骂我是老赖，说我没脸没皮",
            "催收员态度极差，我一解释就说我找借口",
            "冷嘲热讽，说“这点钱都还不起还借什么”",
            "说话带脏字，我都录音了",
            "根本不听我说，态度很差，一直重复“今天必须还”",
            "挂电话前还骂了一句",
            "语气特别凶，像审犯人一样",
        ),
    },
    "threat_intimidation": {
        1: (
            "他们只是说了逾期可能会影响征信，没有吓唬我",
            "讲后果的时候比较客观，说的都是合同里写的，没有威胁",
            "这次没有说什么坐牢之类的话，感觉正规了很多",
            "我问会不会被起诉，专员如实说了流程，没有夸大",
        ),
        0: (
            "提醒了逾期会上征信",
            "说再不还可能会走法律程序起诉，也会上征信",
            "告诉我逾期会影响征信和以后贷款",
            "说会按合同收罚息，还提了征信",
        ),
        -1: (
            "说不还就让我坐牢",
            "威胁说明天就上门，让我全家都知道",
            "冒充法院的人打电话，说已经立案马上冻结我的账户",
            "说是律师事务所的，要起诉我诈骗",
            "威胁要把我的照片发到网上让我社死",
            "威胁说会影响我孩子上学、政审",
            "催收拿征信吓我，说这辈子都别想坐高铁",
            "说已经报警了，等着被抓吧",
        ),
    },
    "repayment_plan": {
        1: (
            "主动帮我申请了分期，分成{k}期，每期压力小多了",
            "减免了一部分罚息，我觉得挺有诚意",
            "我说现在失业了，专员帮我申请了延期一个月",
            "协商以后同意我先还本金，罚息后面再说",
            "申请停催以后给了我喘口气的时间",
            "最后协商成每月还{amt}，我能承受",
            "专员帮我算了几个还款方案，让我自己选",
        ),
        0: (
            "问过能不能分期，说要提交申请等审核",
            "提了延期，说要看系统能不能通过",
            "协商还在进行中，还没有结果",
            "说可以减免一部分罚息，但要先还一半",
            "给了个还款方案，我还在考虑",
        ),
        -1: (
            "我想分期，他们说不行，必须一次性结清",
            "申请延期被拒了，也不说原因",
            "说好的减免罚息，结果账单一点没变",
            "协商了三次都没用，每次都说要走流程",
            "让我去别的平台借钱先还上，不给任何还款方案",
            "答应我停催，结果第二天又开始打",
            "我每个月只能还{amt}，协商说太少了不接受",
        ),
    },
    "fees_transparency": {
        1: (
            "利息和罚息怎么算的，专员一项一项跟我解释了",
            "APP里的账单很清楚，本金、利息、罚息分开列",
            "我问了还款明细和费用，客服很快发了过来",
            "结清以后开了结清证明，费用也都对得上",
        ),
        0: (
            "利息还行，就是罚息有点高",
            "账单看得懂，但是利息没人主动解释",
            "手续费是多少我也不太清楚",
            "说费用按合同算的，我自己也没仔细看过合同",
        ),
        -1: (
            "借了{amt}，现在要还的利息比本金还多",
            "莫名其妙多了一笔服务费，问了也不说清楚",
            "罚息利滚利，越还越多",
            "有个会员费我根本不知道是什么时候开的",
            "每次问欠多少，说的数都不一样，利息怎么算的也不说",
            "砍头息没说清楚，到手少了一大截",
            "担保费、服务费一堆名目，利息算下来远超24%",
        ),
    },
}

#: Keyword families per tactic: every fragment of ``EXPERIENCES[tactic]`` contains one.
TACTIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "phone_call": ("电话",),
    "sms": ("短信", "APP", "微信", "推送"),
    "home_visit": ("上门", "堵我", "店里"),
    "third_party_contact": (
        "家里", "紧急联系人", "单位", "通讯录", "家族群", "同事", "亲戚", "我妈", "我爸", "老婆",
        "老公", "我姐", "我哥", "对象", "婆婆", "舅舅", "岳父", "表姐", "领导", "主管", "HR",
        "老板", "组长", "前台", "经理",
    ),
    "contact_frequency": (
        "频率", "一周", "一天", "每天", "白天", "隔两三天", "打得少", "号码", "未接",
        "一个小时一个", "晚上", "半夜", "凌晨", "早上", "周三",
    ),
    "agent_attitude": ("态度", "耐心", "温和", "尊重", "老赖", "骂", "语气", "冷嘲热讽", "脏字"),
    "threat_intimidation": ("征信", "坐牢", "威胁", "法院", "律师", "起诉", "报警", "吓"),
    "repayment_plan": ("分期", "延期", "减免", "协商", "停催", "还款方案"),
    "fees_transparency": ("利息", "罚息", "费", "明细", "砍头息"),
}  # fmt: skip

# Base polarity mix per tactic: (negative, neutral, positive).
_POLARITY_MIX: dict[str, tuple[float, float, float]] = {
    "phone_call": (0.33, 0.37, 0.30),
    "sms": (0.28, 0.47, 0.25),
    "home_visit": (0.55, 0.25, 0.20),
    "third_party_contact": (0.82, 0.10, 0.08),
    "contact_frequency": (0.62, 0.20, 0.18),
    "agent_attitude": (0.38, 0.22, 0.40),
    "threat_intimidation": (0.84, 0.11, 0.05),
    "repayment_plan": (0.16, 0.30, 0.54),
    "fees_transparency": (0.45, 0.35, 0.20),
}
_TACTIC_WEIGHTS: dict[str, float] = {
    "phone_call": 1.2,
    "sms": 0.9,
    "home_visit": 0.5,
    "third_party_contact": 0.8,
    "contact_frequency": 0.9,
    "agent_attitude": 1.0,
    "threat_intimidation": 0.7,
    "repayment_plan": 1.4,
    "fees_transparency": 0.8,
}
_CAMPAIGN_BOOST: dict[str, float] = {
    "threat_intimidation": 2.8,
    "third_party_contact": 2.4,
    "contact_frequency": 2.4,
    "home_visit": 1.6,
    "repayment_plan": 0.6,
}
_CHANNEL_TACTICS: dict[str, tuple[str, ...]] = {
    "电话": ("phone_call", "phone_call", "contact_frequency"),
    "短信": ("sms",),
    "上门": ("home_visit",),
    "APP/微信": ("sms",),
}
# Extra shift of mass from positive/neutral to negative.
_BUCKET_HARSHNESS = {"M1": 0.0, "M2": 0.12, "M3+": 0.28}
_CAMPAIGN_HARSHNESS = 0.3

_OPENERS: tuple[str, ...] = (
    "说实话，", "怎么说呢，", "我就简单说两句。", "先说结论：", "逾期{days}了，",
    "借了{amt}，", "去年失业了，一直还不上，", "因为生病住院耽误了还款，", "嗯，",
    "讲一下我的经历吧。", "第一次填这种问卷，", "上个月开始逾期的，", "本人{days}前逾期，",
    "工资拖欠了{days}，", "不是不想还，", "情况是这样的：", "作为一个逾期的人，",
    "家里出了点事，", "疫情之后收入少了一半，", "孩子生病花了不少钱，", "我一个宝妈，",
    "跑外卖的，收入不稳定，", "坦白讲，", "被催收折腾了{days}，", "征信已经花了，",
    "网贷逾期{days}，催收天天找，",
)  # fmt: skip
_PRODUCT_OPENERS: dict[str, tuple[str, ...]] = {
    "个人消费贷": ("消费贷逾期{days}，", "网贷借了{amt}，", "当时借钱是为了装修，"),
    "信用卡分期": ("信用卡分期逾期了，", "卡里分期还不上了，", "信用卡欠了{amt}，"),
    "企业经营贷": ("做小生意的，", "店里生意不好，", "经营贷周转不开，", "厂子停工了，"),
}
_FEELINGS: dict[str, tuple[str, ...]] = {
    "anxiety": (
        "现在每天都很焦虑，手机一响就心慌", "晚上睡不着，一直在想这个事", "压力好大，喘不过气",
        "整个人都是紧绷的", "天天失眠，掉头发",
    ),
    "anger": ("真的气死我了", "太过分了", "凭什么这样对人", "越想越气", "欺人太甚"),
    "fear": (
        "我现在很害怕，怕他们真的找上门", "吓得我一晚上没睡", "我都不敢出门了",
        "听到敲门声就发抖", "怕得不行",
    ),
    "shame": (
        "在家人面前抬不起头", "觉得特别丢人", "同事看我的眼神都变了", "不敢见人",
        "脸都丢光了",
    ),
    "helplessness": (
        "我也不知道该怎么办了", "真的没办法，能还早还了", "感觉走投无路了",
        "一个人扛着，不知道跟谁说", "心累，真的心累",
    ),
    "gratitude": (
        "真的很感谢那位专员", "谢谢你们给我这个机会", "挺感激的，让我缓了口气",
        "说实话比我想的好太多了", "感谢理解",
    ),
}  # fmt: skip
_NEG_EMOTIONS = tuple(e for e in EMOTIONS if e != "gratitude")
_NEUTRAL_FEELINGS: tuple[str, ...] = ("心情还算平静", "没什么特别的感觉", "就这样吧", "还好")
_TACTIC_EMOTIONS: dict[str, tuple[str, ...]] = {
    "third_party_contact": ("shame", "shame", "anger"),
    "threat_intimidation": ("fear", "fear", "anger"),
    "home_visit": ("fear", "shame"),
    "contact_frequency": ("anxiety", "anger"),
    "agent_attitude": ("anger",),
    "fees_transparency": ("anger", "helplessness"),
    "repayment_plan": ("helplessness", "anxiety"),
    "phone_call": ("anxiety", "anger"),
    "sms": ("anxiety", "fear"),
}
_REQUESTS: dict[str, tuple[str, ...]] = {
    "understanding": (
        "希望能多理解一下我们的难处", "我不是不还，希望给点时间", "都是人，希望说话能客气点",
        "希望把我们当人看", "希望多点人情味",
    ),
    "flexible_plan": (
        "希望能分期还", "能不能延期一两个月", "希望减免一点罚息",
        "希望能协商一个我还得起的方案", "能不能先停催，等我找到工作",
    ),
    "fewer_contacts": (
        "别一天打那么多电话了", "晚上十点以后别再打了", "希望少联系点，一周一次就够了",
        "别换号码轰炸了",
    ),
    "privacy": (
        "千万别再联系我家里人", "求你们别打我单位电话", "欠钱的是我，别牵扯别人",
        "别再爆通讯录了",
    ),
    "fee_clarity": (
        "希望把利息罚息算清楚给我", "能不能发一份详细的账单", "希望费用透明一点",
        "希望说清楚每一笔费用是干嘛的",
    ),
}  # fmt: skip
_TACTIC_REQUESTS: dict[str, str] = {
    "third_party_contact": "privacy",
    "contact_frequency": "fewer_contacts",
    "fees_transparency": "fee_clarity",
    "repayment_plan": "flexible_plan",
    "agent_attitude": "understanding",
    "threat_intimidation": "understanding",
    "home_visit": "privacy",
}
_COMPLAINTS: tuple[str, ...] = (
    "我已经打12378投诉了", "已经在黑猫上投诉了", "再这样我就报警", "我要投诉你们",
    "截图录音都留着，准备举报", "打算向金融监管局投诉", "已经投诉到银保监了",
)  # fmt: skip
_CLOSERS: dict[str, tuple[str, ...]] = {
    "positive": (
        "总体还算满意", "给个好评吧", "希望一直保持", "这次体验还可以", "点赞👍", "谢谢",
        "比以前好多了",
    ),
    "neutral": ("就这些吧", "没别的了", "一般般", "希望改进", "以上", "先这样"),
    "negative": (
        "太差了", "强烈不满", "希望有人管管", "差评", "不会再用你们家了", "真的很失望",
        "什么垃圾平台",
    ),
}  # fmt: skip
_SHORT_ANSWERS: dict[str, tuple[str, ...]] = {
    "negative": ("烦死了", "太差", "别再打了", "无语", "差评", "呵呵", "垃圾", "服了"),
    "neutral": ("还行", "一般", "没什么说的", "无", "暂无", "不清楚", "还可以吧", "就那样"),
    "positive": ("挺好的", "满意", "服务不错", "谢谢", "挺好挺好", "很满意👍", "没问题"),
}  # fmt: skip
_EMOJI: dict[str, tuple[str, ...]] = {
    "negative": ("😭", "😤", "😡", "💔", "😓", "🙃", "😰"),
    "neutral": ("😐", "🤷", "🙂"),
    "positive": ("👍", "🙏", "😊", "❤️", "👏"),
}
#: Typos and homophones some texts carry: (correct, as typed).
TYPOS: tuple[tuple[str, str], ...] = (
    ("利息", "利西"), ("逾期", "预期"), ("征信", "真信"), ("还款", "换款"), ("已经", "以经"),
    ("什么", "神马"), ("账单", "帐单"), ("知道", "知到"),
)  # fmt: skip
#: Pinyin shorthand some texts carry: (word, shorthand).
SHORTHAND: tuple[tuple[str, str], ...] = (
    ("催收员", "cs"), ("催收", "cs"), ("征信", "zx"), ("逾期", "yq"), ("老婆", "lp"),
)  # fmt: skip

_TRADITIONAL_PAIRS = " ".join(
    (
        "们們 钱錢 电電 话話 还還 说說 这這 个個 会會 没沒 里裡 让讓 给給 么麼 对對 时時",
        "后後 来來 样樣 过過 为為 问問 题題 长長 发發 开開 关關 门門 员員 态態 债債 贷貸",
        "务務 账賬 单單 应應 该該 经經 难難 谢謝 请請 专專 业業 无無 处處 报報 乱亂 吓嚇",
        "机機 号號 联聯 络絡 亲親 妈媽 见見 现現 实實 压壓 帮幫 办辦 头頭 几幾 条條 点點",
        "烦煩 罚罰 费費 协協 额額 减減 计計 划劃 银銀 讲講 觉覺 骂罵 与與 从從 动動 将將",
        "响響 语語 录錄 饭飯 级級 认認 识識 准準 备備 诉訴 执執 杀殺 尽盡 结結 产產 区區",
        "种種 纸紙 惊驚 吗嗎 边邊 约約 资資 币幣 欢歡 车車 页頁 写寫 节節 气氣 万萬",
        "两兩 岁歲 论論 听聽 胁脅 进進 细細 况況 别別 顾顧 网網 贴貼 丢丟 脸臉 赖賴 证證 医醫",
        "孙孫 厂廠 伤傷 审審 简簡 线線 扰擾 续續 试試 标標 险險 疗療 灵靈 虑慮 虽雖 静靜",
    )
).split()
#: Simplified -> Traditional table for the characters the fragments use (about 4% of texts).
TRADITIONAL: dict[int, str] = {ord(s): t for s, t in _TRADITIONAL_PAIRS if s != t}
#: Characters that only occur in the Traditional-converted texts.
TRADITIONAL_ONLY_CHARS: frozenset[str] = frozenset(TRADITIONAL.values())


# --------------------------------------------------------------------------------------------
# Survey generation
# --------------------------------------------------------------------------------------------


class _SlotFiller(dict):
    """format_map mapping that draws each slot once per text."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self._rng = rng

    def __missing__(self, key: str) -> str:
        value = self._rng.choice(_SLOTS[key])
        self[key] = value
        return value


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _polarity(rng: random.Random, tactic: str, harshness: float) -> int:
    neg, neu, pos = _POLARITY_MIX[tactic]
    shifted = min(0.97, neg + harshness * (1 - neg))
    scale = (1 - shifted) / (neu + pos)
    return rng.choices((-1, 0, 1), weights=(shifted, neu * scale, pos * scale))[0]


def _choose_tactics(rng: random.Random, k: int, channel: str, campaign: bool) -> list[str]:
    weights = dict(_TACTIC_WEIGHTS)
    if campaign:
        for tactic, boost in _CAMPAIGN_BOOST.items():
            weights[tactic] *= boost
    chosen: list[str] = []
    if rng.random() < 0.45:
        chosen.append(rng.choice(_CHANNEL_TACTICS[channel]))
    while len(chosen) < k:
        tactic = _weighted(rng, {t: w for t, w in weights.items() if t not in chosen})
        chosen.append(tactic)
    return chosen


_PUNCT_END = "，。！？：,.!?…"


def _join(rng: random.Random, parts: Sequence[tuple[str, int | None]], sentiment: str) -> str:
    """Join fragments with varied punctuation; 不过/但是 where the polarity flips."""
    out = ""
    last_pol: int | None = None
    for text, pol in parts:
        if not out:
            out = text
        else:
            if out[-1] not in _PUNCT_END:
                if pol is not None and last_pol is not None and pol * last_pol < 0:
                    out += rng.choice(("，不过", "，但是", "。不过", "，可是", "。但"))
                elif pol is not None and last_pol is not None:
                    out += rng.choice(("，", "。", "，", "。", "，而且", "。后来", "，然后", "；"))
                else:
                    out += rng.choice(("，", "。", "。", "！" if sentiment == "negative" else "，"))
            out += text
        if pol is not None:
            last_pol = pol
    if out and out[-1] not in _PUNCT_END and not out.endswith(("👍", "️")):
        endings = {
            "negative": ("。", "！", "！！", "。。。", "", "!!!"),
            "neutral": ("。", "", "。", "吧。"),
            "positive": ("。", "！", "", "~"),
        }[sentiment]
        out += rng.choice(endings)
    return out


def _roughen(rng: random.Random, text: str, sentiment: str) -> tuple[str, bool]:
    """Typos, shorthand, chat style, emoji, Traditional characters."""
    if rng.random() < 0.22:
        applicable = [pair for pair in TYPOS if pair[0] in text]
        for wrong in rng.sample(applicable, min(len(applicable), rng.choice((1, 1, 2)))):
            text = text.replace(*wrong)
    if rng.random() < 0.3:
        for short in SHORTHAND:
            if short[0] in text and rng.random() < 0.7:
                text = text.replace(*short)
    if rng.random() < 0.17:
        text = re.sub(r"[，。；]+", " ", text).strip()
    if rng.random() < 0.16:
        emoji = rng.choice(_EMOJI[sentiment]) * rng.choice((1, 1, 1, 2, 3))
        text = text + emoji if rng.random() < 0.8 else emoji + text
    traditional = rng.random() < 0.04
    if traditional:
        text = text.translate(TRADITIONAL)
    return text, traditional


def _compose_survey(
    rng: random.Random, product: str, bucket: str, channel: str, campaign: bool
) -> dict[str, object]:
    harshness = _BUCKET_HARSHNESS[bucket] + (_CAMPAIGN_HARSHNESS if campaign else 0.0)
    tactics: list[str] = []
    polarities: list[int] = []
    emotions: list[str] = []
    requests: list[str] = []
    complaint = False
    if rng.random() < 0.07:
        neg = 0.35 + harshness * 0.5
        sentiment = rng.choices(
            ("negative", "neutral", "positive"), weights=(neg, 0.4, 0.6 - neg / 2)
        )[0]
        text = rng.choice(_SHORT_ANSWERS[sentiment])
        positivity = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}[sentiment]
    else:
        slots = _SlotFiller(rng)
        tactics = _choose_tactics(
            rng, rng.choices((1, 2, 3), weights=(45, 38, 17))[0], channel, campaign
        )
        polarities = [_polarity(rng, t, harshness) for t in tactics]
        score = sum(polarities)
        sentiment = "negative" if score < 0 else "positive" if score > 0 else "neutral"
        positivity = score / len(polarities)
        body: list[tuple[str, int | None]] = [
            (rng.choice(EXPERIENCES[t][p]).format_map(slots), p)
            for t, p in zip(tactics, polarities, strict=True)
        ]
        extras: list[tuple[str, int | None]] = []
        negative_tactics = [t for t, p in zip(tactics, polarities, strict=True) if p < 0]
        if sentiment == "negative" and rng.random() < 0.65:
            pool = _TACTIC_EMOTIONS[rng.choice(negative_tactics or tactics)]
            emotions.append(rng.choice(pool) if rng.random() < 0.75 else rng.choice(_NEG_EMOTIONS))
        elif sentiment == "positive" and rng.random() < 0.45:
            emotions.append("gratitude")
        elif sentiment == "neutral" and rng.random() < 0.15:
            extras.append((rng.choice(_NEUTRAL_FEELINGS), None))
        extras += [(rng.choice(_FEELINGS[e]), None) for e in emotions]
        if rng.random() < {"negative": 0.6, "neutral": 0.35, "positive": 0.2}[sentiment]:
            source = rng.choice(negative_tactics or tactics)
            request = _TACTIC_REQUESTS.get(source, "understanding")
            if rng.random() < 0.3:
                request = rng.choice(REQUESTS)
            requests.append(request)
            extras.append((rng.choice(_REQUESTS[request]), None))
        if sentiment == "negative":
            harsh = {"threat_intimidation", "third_party_contact", "contact_frequency"}
            complaint = rng.random() < (0.4 if harsh & set(negative_tactics) else 0.12)
            if complaint:
                extras.append((rng.choice(_COMPLAINTS), None))
        rng.shuffle(body)
        rng.shuffle(extras)
        parts: list[tuple[str, int | None]] = []
        if rng.random() < 0.45:
            pool = _OPENERS + _PRODUCT_OPENERS[product]
            parts.append((rng.choice(pool).format_map(slots), None))
        if extras and rng.random() < 0.15:
            parts.append(extras.pop())
        parts += body + extras
        if rng.random() < 0.35:
            parts.append((rng.choice(_CLOSERS[sentiment]), None))
        text = _join(rng, parts, sentiment)
    text, traditional = _roughen(rng, text, sentiment)
    return {
        "text": text,
        "sentiment": sentiment,
        "positivity": positivity,
        "tactics": tuple(tactics),
        "polarities": tuple(polarities),
        "emotions": tuple(emotions),
        "requests": tuple(requests),
        "complaint": complaint,
        "traditional": traditional,
    }


def _day_sampler(
    today: date, campaign: pd.Period, campaign_weight: float
) -> tuple[list[date], list[float]]:
    """The 365 days before ``today`` and their weights (campaign days heavier)."""
    days = [today - timedelta(days=offset) for offset in range(365, 0, -1)]
    weights = [
        (campaign_weight if pd.Period(d, freq="M") == campaign else 1.0)
        * (0.75 if d.weekday() >= 5 else 1.0)
        for d in days
    ]
    return days, weights


def _generate_surveys(
    rng: random.Random, n: int, today: date, campaign: pd.Period
) -> tuple[pd.DataFrame, pd.DataFrame]:
    days, weights = _day_sampler(today, campaign, 1.3)
    submitted = sorted(rng.choices(days, weights=weights, k=n))
    respondents = rng.sample(range(1_000_000, 10_000_000), n)
    rows: list[dict[str, object]] = []
    truth_rows: list[dict[str, object]] = []
    for i, day in enumerate(submitted):
        product = rng.choices(PRODUCTS, weights=(55, 33, 12))[0]
        bucket = rng.choices(OVERDUE_BUCKETS, weights=(50, 28, 22))[0]
        channel = rng.choices(CHANNELS, weights=(50, 20, 10, 20))[0]
        region = rng.choices(REGIONS, weights=(16, 10, 9, 9, 9, 10, 7, 6, 7, 6))[0]
        in_campaign = pd.Period(day, freq="M") == campaign
        composed = _compose_survey(rng, product, bucket, channel, in_campaign)
        s = float(composed["positivity"])  # type: ignore[arg-type]
        csat = min(5, max(1, round(3 + 1.7 * s + rng.gauss(0, 0.75))))
        nps = min(10, max(0, round(5.5 + 4.0 * s + rng.gauss(0, 1.8))))
        response_id = f"demo-s-{i + 1:05d}"
        rows.append(
            {
                "response_id": response_id,
                "respondent_id": f"R{respondents[i]}",
                "submitted_at": datetime(day.year, day.month, day.day),
                "product": product,
                "region": region,
                "overdue_bucket": bucket,
                "channel": channel,
                "csat": csat if rng.random() < 0.8 else None,
                "nps": nps if rng.random() < 0.6 else None,
                "text": composed.pop("text"),
            }
        )
        truth_rows.append({"response_id": response_id, **composed, "campaign": in_campaign})
    surveys = pd.DataFrame(rows, columns=list(SURVEY_COLUMNS))
    surveys["submitted_at"] = pd.to_datetime(surveys["submitted_at"]).astype("datetime64[ns]")
    surveys["csat"] = pd.array(surveys["csat"].tolist(), dtype="Int64")
    surveys["nps"] = pd.array(surveys["nps"].tolist(), dtype="Int64")
    return surveys, pd.DataFrame(truth_rows)


# --------------------------------------------------------------------------------------------
# Call fragments
# --------------------------------------------------------------------------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
_GIVEN = ("建国", "丽", "强", "秀英", "伟", "敏", "海燕", "磊", "婷", "志明", "桂兰", "军", "芳")
_RELATIONS = ("老婆", "老公", "妈", "爸", "姐", "同事", "室友", "朋友")
_REASONS = (
    "最近手头真的紧，工资拖了两个月没发",
    "我前段时间住院了，刚出院",
    "厂里裁员，我现在没工作",
    "生意不好做，货款一直收不回来",
    "孩子上学刚交了一大笔钱，这个月实在挤不出来",
    "我老婆生病，钱都花在医院了",
    "不是不还，就是现在真的没有",
    "我这个月房租都还欠着呢",
    "我有好几个平台的账，拆东墙补西墙，补不过来了",
    "店都关了，现在在找工作",
    "跑外卖的，这个月单子少",
    "我知道逾期了，这两天就处理",
)
_FORGOT = ("哎呀我忘了，这几天太忙了", "卡里没钱扣款失败了，不是故意的", "我以为是自动扣款的")
_CONFIRM = (
    "是我，什么事", "嗯，是我", "对，你说吧", "我是，哪位", "是的，是还款的事吧",
    "哦，知道知道", "嗯", "是我，你说",
)  # fmt: skip
_LAWFUL = (
    "理解您的情况。也如实提醒您，逾期可能会影响您的征信记录，后面办贷款、信用卡都会受影响",
    "按合同逾期会产生罚息，时间越长费用越多，所以还是建议您尽早处理",
    "如果长期不处理，我们可能会按合同通过法律途径解决，这个也是如实告知您",
    "逾期记录会按规定报送征信，所以希望您尽快安排一下",
    "我们这边也不想给您添麻烦，只是逾期可能会影响征信，提醒您一下",
)
# (offer, borrower questions, agent answers): the answer always fits the offer.
_PLAN_OFFERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "考虑到您的情况，我这边可以帮您申请延期一个月还款，您看可以吗",
        ("延期要交手续费吗", "延期的话会影响征信吗", "那太好了，怎么申请"),
        ("延期不收手续费，延期期间也不会产生新的罚息", "申请我现在就帮您提交，通过了会短信通知您"),
    ),
    (
        "我们有分期方案，可以把欠款分成{k}期，每期大概{per}元，这样压力小一点",
        ("分几期啊？利息怎么算", "那我每个月要还多少", "分期要额外收钱吗"),
        (
            "分期不额外收手续费，罚息从申请通过那天起停止计算",
            "每期{per}元左右，具体以APP里显示的为准",
        ),
    ),
    (
        "如果您这周能先还本金，我这边可以帮您申请减免部分罚息",
        ("能减免多少", "真的能减免吗", "本金是多少来着"),
        (
            "减免的金额以审批结果为准，一般能减免一半左右的罚息",
            "本金是{amt}元，还完本金我马上帮您提交减免",
        ),
    ),
    (
        "您现在没工作的话，可以申请停催三十天，这段时间我们不打扰您，您先找工作",
        ("停催是真的不打电话了吗", "那三十天以后呢", "真的可以吗"),
        (
            "对，停催期间不会有电话和上门，只会有一条到期提醒短信",
            "三十天后我再联系您，看您情况再协商方案",
        ),
    ),
    (
        "要不我们协商一下，您每个月能还多少，我按这个帮您提交还款计划",
        ("我每个月最多能还{per}", "我也说不好，一千左右吧", "那要怎么申请"),
        (
            "好的，我按每月{per}元帮您提交还款计划，审核通过会短信通知您",
            "您在安信APP里点还款计划就能看到，我已经帮您提交了",
        ),
    ),
    (
        "您可以先还最低金额，剩下的我帮您申请分期，您看行吗",
        ("最低要还多少", "分期的话会影响征信吗", "行，那怎么弄"),
        ("最低还{per}元就可以，剩下的分期我现在帮您提交", "分期按时还就不会有新的逾期记录"),
    ),
)  # fmt: skip
# Filler exchanges: agent first, borrower last, so transcripts keep alternating.
_PADS: tuple[tuple[str, ...], ...] = (
    ("您现在方便说话吗", "我在上班，你长话短说"),
    ("您这个月的收入大概什么时候到", "月底吧，要看老板什么时候发"),
    ("还款直接在安信APP里操作就可以，不要转给任何个人账户", "好，我知道了"),
    ("您之前说的情况我这边有记录", "对，我上次跟你们同事说过了"),
    ("罚息是按日计算的，明细我可以发到您APP消息里", "行，你发我看看，罚息怎么这么多"),
    ("您这边还有其他平台的欠款吗", "还有两个，我也是拆东墙补西墙"),
    ("逾期记录只关系到您本人，不会影响家里人", "那就好，我就怕影响孩子"),
    ("您的本金还剩{amt}元左右，加上罚息以APP显示为准", "这么多啊"),
    ("喂？您还在听吗", "在，你说"),
    ("这次打电话是关于{product}那一笔，尾号{tail}", "哦那一笔啊，我还以为是另一个"),
    ("您可以先还一部分，也能少算一点罚息", "我看看能凑多少吧"),
    ("短信提醒这边我给您备注一下，减少发送次数", "好，天天发短信我都烦了"),
    ("我理解您现在压力大", "嗯，压力真的很大"),
    ("您还有什么想了解的吗", "那我还到哪个账户", "直接在安信APP里还，不要转给个人", "好"),
    ("您还有什么问题吗", "你们是正规公司吧", "是的，您可以打官方客服电话核实我的工号", "行"),
    ("喂？", "喂？喂？听得到吗", "听得到，您说", "刚才信号不好"),
    ("您的家人知道这个情况吗", "不知道，我不想让他们知道"),
    ("我这边看到您之前都是按时还的", "对啊，就这两个月出了点事"),
)  # fmt: skip
_HARSH_PADS: tuple[tuple[str, ...], ...] = (
    ("你别跟我扯这些", "我没扯，我是真没钱"),
    ("没钱你借什么钱", "我借的时候也没想到会这样"),
    ("你到底有没有诚意", "我有诚意啊，你能不能好好说话"),
    ("想办法想了一个月了", "我真的在想办法了", "那你倒是还啊", "你别吼啊"),
)
_FOLLOW_UPS = (
    "行行行，你别说了", "……", "我不想跟你吵", "你们就是这样对客户的", "我会还的，你别这样",
)  # fmt: skip
_PROMPTS = (
    "那您看什么时候能处理一下", "您这边打算怎么安排", "那您看这个怎么处理比较好",
    "您大概什么时候能还上",
)  # fmt: skip
_HARSH_PROMPTS = ("那你到底什么时候还", "说吧，什么时候还", "今天能不能还")
_VIOLATION_LINES: dict[str, tuple[str, ...]] = {
    "threat": (
        "不还就让你坐牢，你自己想清楚", "明天我们就上门，让你邻居都看看",
        "你等着，我们有的是办法收拾你", "再不还我们就去你单位找你领导，让你工作都丢了",
    ),
    "insult": (
        "你这种老赖我见多了", "借钱的时候怎么不说没钱？脸呢", "老赖就是老赖，找什么借口",
        "你还要不要脸了",
    ),
    "misleading": (
        "你已经被列入失信名单了，高铁飞机都坐不了", "今天不还明天就立案，直接冻结你所有银行卡",
        "你这已经是诈骗了，要判刑的",
    ),
    "impersonation": (
        "法院这边已经立案了，你再不配合就强制执行", "我是律师，这个案子我们律所已经接了",
    ),
    "third_party_disclosure": (
        "你{rel}那边我们已经打过电话了，告诉他你欠钱不还",
        "我刚给你们公司前台打了电话，让他们转告你欠款的事",
        "你通讯录里的人我们都会通知，让大家知道你欠钱",
    ),
    "new_debt": (
        "你去找朋友借点，或者别的平台借一下，先把这个还上",
        "网上那么多贷款APP，随便借一个不就还上了",
        "信用卡套现一下不就有了",
    ),
}  # fmt: skip
_VIOLATION_REACTIONS = (
    "你这是威胁我吗", "你说话客气点", "我要投诉你", "我录音了啊", "你凭什么这么说",
    "那你把案号发我", "别打我家里人电话",
)  # fmt: skip
_STATEMENTS = (
    "您在我们这边的{product}目前逾期{days}天了，应还金额{amt}元，想跟您确认一下还款安排",
    "系统显示您的{product}这期还没还，已经逾期{days}天，含罚息一共{amt}元",
    "{b}，您的{product}账单逾期{days}天了，今天打电话想了解一下您的情况",
    "{b}您好，您的{product}已经逾期{days}天，应还{amt}元，您这边是遇到什么困难了吗",
)
_HARSH_STATEMENTS = (
    "你欠了{amt}，逾期{days}天了，拖到现在什么意思",
    "你那{amt}块钱什么时候还，都{days}天了",
)
_PLAN_REACTIONS = ("好的，那就这样吧", "行，谢谢你啊", "我考虑一下", "可以可以")
_ACKS = ("我知道", "嗯，明白", "我也不想逾期啊", "嗯", "知道了知道了")
_RETORTS = (
    "投诉？随便你", "我说的是事实", "你爱怎么想怎么想", "少废话，就说还不还", "录音也没用",
)  # fmt: skip
_CLOSINGS = (
    "好的，那就不打扰您了，祝您生活愉快，再见", "感谢您的配合，再见",
    "好的，有问题随时打我们客服电话，再见", "那先这样，您注意查收短信，再见",
)  # fmt: skip
_HARSH_CLOSINGS = ("自己看着办吧", "行，你等着", "别让我再打第二次")
_BYES = ("嗯，再见", "拜拜", "好，谢谢", "嗯", "好的好的")


def _identity_line(rng: random.Random, agent: tuple[str, str, str], staff_no: str, b: str) -> str:
    name = agent[1]
    return rng.choice(
        (
            f"您好，我是{ORGANISATION}的客服专员{name}，工号{staff_no}，请问是{b}本人吗",
            f"{b}您好，这里是{ORGANISATION}贷后服务中心，我姓{name[0]}，工号{staff_no}，"
            "请问您现在方便接电话吗",
            f"您好，打扰了，我是{ORGANISATION}的{name}，请问是{b}吗",
            f"喂您好，{ORGANISATION}，我是工号{staff_no}的专员，请问您是{b}本人吗",
        )
    )


def _anonymous_line(rng: random.Random, b: str, full: str) -> str:
    return rng.choice(
        (f"喂，{b}是吧", f"你是{full}吧，欠的钱打算什么时候还", f"{full}？你那个账到底还不还")
    )


def _impersonation_line(rng: random.Random, region: str) -> str:
    return rng.choice(
        (
            f"您好，这里是{region}人民法院执行局，你的案子已经到我们这了",
            "我是华盛律师事务所的张律师，受委托处理你的欠款纠纷",
            "我们这边是法院的，你的借款纠纷已经立案",
        )
    )


_Turns = list[tuple[str, str]]
_SPEAKERS = ("agent", "borrower") * 2


def _merge_speakers(turns: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join consecutive turns of one speaker, as diarisation would."""
    merged: list[tuple[str, str]] = []
    for speaker, text in turns:
        if merged and merged[-1][0] == speaker:
            merged[-1] = (speaker, f"{merged[-1][1]}，{text}")
        else:
            merged.append((speaker, text))
    return merged


def _compose_call(
    rng: random.Random,
    agent: tuple[str, str, str],
    product: str,
    outcome: str,
    plan: bool,
    violations: Sequence[str],
    hour: int,
    nth_today: int,
) -> list[tuple[str, str]]:
    """One transcript as (speaker, text) pairs; stages follow the agent's behaviour."""
    surname = rng.choice(_SURNAMES)
    full = surname + rng.choice(_GIVEN)
    b = surname + rng.choice(("先生", "女士"))
    per = rng.choice((400, 500, 650, 800, 1000, 1200, 1500))
    slots = _SlotFiller(rng)
    slots.update(
        product=product,
        per=str(per),
        tail=f"{rng.randrange(10_000):04d}",
        amt=str(per * rng.choice((3, 6, 9, 12))),
        days=str(rng.choice((3, 7, 12, 18, 25, 33, 46, 61, 95))),
        rel=rng.choice(_RELATIONS),
        b=b,
        full=full,
    )
    harsh = bool(violations)
    opening: _Turns = []
    if rng.random() < 0.12:
        opening.append(("borrower", rng.choice(("喂？", "喂，哪位", "你好", "喂 你好"))))
    if "impersonation" in violations:
        opening.append(("agent", _impersonation_line(rng, rng.choice(REGIONS))))
    elif "no_identity_disclosure" in violations:
        opening.append(("agent", _anonymous_line(rng, b, full)))
    else:
        opening.append(("agent", _identity_line(rng, agent, f"3{int(agent[0][1:]):03d}", b)))

    middle: list[_Turns] = []
    ending: _Turns = []
    if outcome == "wrong_party":
        relation = slots["rel"]
        opening += [
            ("borrower", rng.choice((f"不是，我是他{relation}", "你打错了吧，我不是", "他不在"))),
            ("agent", "请问您认识{full}吗"),
            ("borrower", rng.choice((f"认识，我是他{relation}", "认识，什么事", "算认识吧"))),
        ]
        if "third_party_disclosure" in violations:
            opening += [
                ("agent", "那你告诉他，他在我们这欠了{amt}不还，再不还我们就起诉他"),
                ("borrower", rng.choice(("这关我什么事", "你们怎么跟我说这个", "啊？他欠钱了？"))),
            ]
        else:
            opening += [
                ("agent", "这个涉及他本人的事情，不方便透露，麻烦您让他方便时回个电话，谢谢"),
                ("borrower", rng.choice(("行吧，我跟他说", "好的", "我跟他不熟，你自己找他"))),
            ]
        pads: list[_Turns] = [
            [("agent", "他最近换号码了吗"), ("borrower", rng.choice(("不知道", "不清楚")))],
            [("agent", "您方便留个他其他的联系方式吗"), ("borrower", "这个我不方便说")],
            [("agent", "您最近见过他吗"), ("borrower", "好久没见了")],
        ]
        ending.append(("agent", rng.choice(_HARSH_CLOSINGS if harsh else _CLOSINGS)))
    else:
        if "off_hours" in violations and rng.random() < 0.7:
            opening.append(
                ("borrower", "现在都几点了你还打电话" if hour >= 21 else "这才几点啊，我还在睡觉")
            )
        else:
            opening.append(("borrower", rng.choice(_CONFIRM)))
        if nth_today >= 2:
            count = "零一两三四五六七八九"[min(nth_today, 9)]
            opening += [
                ("borrower", rng.choice((f"今天第{count}个电话了", f"你们今天打了{count}次了"))),
                ("agent", "你不还钱我们就一直打" if harsh else "不好意思，这是今天最后一次"),
            ]
        if harsh and rng.random() < 0.6:
            statement = rng.choice(_HARSH_STATEMENTS)
        else:
            statement = rng.choice(_STATEMENTS)
        opening += [
            ("agent", statement),
            ("borrower", rng.choice(_FORGOT if outcome == "paid" else _REASONS)),
        ]
        if not harsh or rng.random() < 0.4:
            middle.append([("agent", rng.choice(_LAWFUL)), ("borrower", rng.choice(_ACKS))])
        for rule in violations:
            if rule in _VIOLATION_LINES:
                reaction = "你们真是法院的？那你把案号发我" if rule == "impersonation" else None
                middle.append([
                    ("agent", rng.choice(_VIOLATION_LINES[rule])),
                    ("borrower", reaction or rng.choice(_VIOLATION_REACTIONS)),
                    ("agent", rng.choice(_RETORTS)),
                    ("borrower", rng.choice(_FOLLOW_UPS)),
                ])  # fmt: skip
        if plan:
            offer, questions, answers = rng.choice(_PLAN_OFFERS)
            middle.append([
                ("agent", offer), ("borrower", rng.choice(questions)),
                ("agent", rng.choice(answers)),
                ("borrower", rng.choice(_PLAN_REACTIONS)),
            ])  # fmt: skip
        elif rng.random() < 0.35:
            middle.append([
                ("agent", rng.choice(("您看能不能先还一部分", "这个钱您看怎么解决"))),
                ("borrower", rng.choice(("能不能分期啊", "能不能晚几天", "罚息能不能少点"))),
                ("agent", rng.choice(("这个我这边申请不了，建议您先凑一部分",
                                      "这个办不了，您还是尽快处理吧"))),
                ("borrower", rng.choice(("那我再想想", "唉", "好吧"))),
            ])  # fmt: skip
        rng.shuffle(middle)
        pads = [list(zip(_SPEAKERS, pad, strict=False)) for pad in _PADS]
        if harsh:
            pads += [list(zip(_SPEAKERS, pad, strict=False)) for pad in _HARSH_PADS]
        ending = _call_ending(rng, outcome, harsh)

    if rng.random() < 0.7:
        ending.append(("borrower", rng.choice(_BYES)))
    rng.shuffle(pads)
    target = rng.randint(8, 30)

    def assemble() -> list[tuple[str, str]]:
        return _merge_speakers(opening + [turn for block in middle for turn in block] + ending)

    turns = assemble()
    while len(turns) < target and pads:
        at = rng.randint(0, len(middle))
        middle.insert(at, pads.pop())
        candidate = assemble()
        if len(candidate) > 30:
            break
        turns = candidate
    return [(speaker, text.format_map(slots)) for speaker, text in turns]


def _call_ending(rng: random.Random, outcome: str, harsh: bool) -> _Turns:
    """Agent prompt, the borrower's answer per outcome, the agent's reply and goodbye."""
    closing = rng.choice(_HARSH_CLOSINGS if harsh else _CLOSINGS)
    prompt = ("agent", rng.choice(_HARSH_PROMPTS if harsh else _PROMPTS))
    if outcome == "promise_to_pay":
        when = rng.choice(("明天", "这周五", "下周一", "月底", "15号", "发工资那天"))
        part = rng.choice(("先还{per}", "全部还上", "先还一半", "还{amt}"))
        confirm = f"好的，我记录一下，{when}前{part.replace('先', '')}，到时候我再跟您确认"
        return [
            prompt,
            ("borrower", f"行，那我{when}之前{part}"),
            ("agent", "行，记住你说的" if harsh else confirm),
            ("borrower", rng.choice(("好的好的", "嗯，一定", "行"))),
            ("agent", closing),
        ]
    if outcome == "paid":
        return [
            prompt,
            ("borrower", rng.choice(("我现在就在APP上还吧", "我马上转，你等一下"))),
            ("agent", "好的，您操作一下，我在线上等您"),
            ("borrower", "好了，你看一下"),
            ("agent", f"我这边看到已经到账了，{closing}"),
        ]
    if outcome == "refused":
        line = rng.choice(("我现在就是没钱，你们爱怎么样就怎么样吧", "我不还，你们去告我吧",
                           "别打了，我没钱"))  # fmt: skip
        reply = "你想清楚后果" if harsh else "那您再考虑一下，有困难随时联系我们"
    else:
        line = rng.choice(("我再想想办法吧，过几天再说", "我考虑考虑，先这样", "等我问问家里再说"))
        reply = "那你抓紧" if harsh else "好的，那我过两天再联系您"
    return [prompt, ("borrower", line), ("agent", f"{reply}，{closing}")]


def _asr(rng: random.Random, text: str) -> str:
    """ASR flavour: no punctuation, fillers between clauses, the odd stutter."""
    clauses = [c for c in re.split(r"[，。？！、,.?!“”：；…]+", text) if c]
    out = ""
    for clause in clauses:
        sep = rng.choice(("", " ", " ", " ", " ", " ", " 嗯 ", " 那个 ", " 就是 "))
        out = f"{out}{sep}{clause}" if out else clause
    if rng.random() < 0.4:
        out = rng.choice(("嗯 ", "啊 ", "那个 ", "呃 ", "嗯嗯 ")) + out
    if rng.random() < 0.12 and len(out) > 3 and not out[0].isspace():
        out = out[0] + " " + out
    return re.sub(r"\s+", " ", out).strip() or "嗯"


class _CallPlan(NamedTuple):
    agent_id: str
    day: date
    hour: int
    borrower_id: str
    product: str
    overdue_bucket: str
    nth_today: int  # position in an over-frequency cluster; 1 for ordinary calls
    cluster: bool


def _plan_calls(rng: random.Random, n: int, today: date, campaign: pd.Period) -> list[_CallPlan]:
    """Who calls whom, when: over-frequency clusters first, then ordinary calls."""
    days, weights = _day_sampler(today, campaign, 2.4)
    cumulative = list(accumulate(weights))

    def draw_day() -> date:
        return days[bisect_left(cumulative, rng.random() * cumulative[-1])]

    plans: list[_CallPlan] = []
    for c in range(min(4, n // 60)):  # one violating agent calls one borrower 4-6 times a day
        agent_id = _OVER_FREQUENCY_AGENTS[c % len(_OVER_FREQUENCY_AGENTS)]
        day, borrower = draw_day(), f"B{rng.randrange(100_000, 1_000_000)}"
        product = rng.choices(PRODUCTS, weights=(55, 33, 12))[0]
        bucket = rng.choices(OVERDUE_BUCKETS, weights=(30, 35, 35))[0]
        hours = sorted(rng.sample(range(9, 21), rng.randint(4, 6)))
        plans += [
            _CallPlan(agent_id, day, hour, borrower, product, bucket, nth, True)
            for nth, hour in enumerate(hours, start=1)
        ]
    agent_weights = [1.2 if a[0] in VIOLATING_AGENTS else 1.0 for a in AGENTS]
    while len(plans) < n:
        plans.append(
            _CallPlan(
                agent_id=rng.choices(AGENTS, weights=agent_weights)[0][0],
                day=draw_day(),
                hour=rng.choices(range(9, 21), weights=(5, 8, 8, 4, 4, 7, 8, 8, 7, 5, 3, 2))[0],
                borrower_id=f"B{rng.randrange(100_000, 1_000_000)}",
                product=rng.choices(PRODUCTS, weights=(55, 33, 12))[0],
                overdue_bucket=rng.choices(OVERDUE_BUCKETS, weights=(45, 30, 25))[0],
                nth_today=1,
                cluster=False,
            )
        )
    return plans[:n]


def _violations(rng: random.Random, plan: _CallPlan, in_campaign: bool) -> list[str]:
    rate, rule_weights = _AGENT_PROFILES.get(plan.agent_id, _DEFAULT_PROFILE)
    if in_campaign and plan.agent_id in _AGENT_PROFILES:
        rate = min(0.95, rate + 0.1)
    violations = ["over_frequency"] if plan.cluster else []
    if rng.random() < rate:
        pool = dict(rule_weights)
        for _ in range(rng.choices((1, 2, 3), weights=(55, 35, 10))[0]):
            if pool:
                violations.append(_weighted(rng, pool))
                pool.pop(violations[-1])
    return violations


def _generate_calls(
    rng: random.Random, n: int, today: date, campaign: pd.Period
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    agent_by_id = {a[0]: a for a in AGENTS}
    records = []
    for plan in _plan_calls(rng, n, today, campaign):
        in_campaign = pd.Period(plan.day, freq="M") == campaign
        violations = _violations(rng, plan, in_campaign)
        hour = rng.choice((22, 22, 23, 6, 7, 7)) if "off_hours" in violations else plan.hour
        minute = rng.randrange(5, 60) if hour == 22 else rng.randrange(60)
        if rng.random() < 0.06 and not plan.cluster:
            outcome, offered = "wrong_party", False
            violations = [v for v in violations if v not in {"new_debt", "misleading", "threat"}]
        else:
            offered = rng.random() < (0.22 if violations else 0.5)
            outcome_weights = (55, 10, 18, 12) if offered else (20, 32, 40, 6)
            outcome = rng.choices(OUTCOMES[:4], weights=outcome_weights)[0]
        if "impersonation" in violations and "no_identity_disclosure" not in violations:
            violations.append("no_identity_disclosure")  # a fake court never names the lender
        order = [v for v in VIOLATION_RULES if v in violations]
        rng.shuffle(order)
        turns = _compose_call(
            rng, agent_by_id[plan.agent_id], plan.product, outcome, offered, order, hour,
            plan.nth_today,
        )  # fmt: skip
        asr = rng.random() < 0.3
        if asr:
            turns = [(speaker, _asr(rng, text)) for speaker, text in turns]
        started = datetime(plan.day.year, plan.day.month, plan.day.day, hour, minute,
                           rng.randrange(60))  # fmt: skip
        truth = (offered, tuple(sorted(violations)), asr, in_campaign)
        records.append((started, plan, outcome, truth, turns))

    records.sort(key=lambda r: (r[0], r[1].agent_id))
    call_rows, turn_rows, truth_rows = [], [], []
    for i, (started, plan, outcome, truth, turns) in enumerate(records):
        call_id = f"demo-c-{i + 1:04d}"
        clock = round(rng.uniform(0.5, 3.0), 2)
        for index, (speaker, text) in enumerate(turns):
            length = max(0.8, len(text) * rng.uniform(0.2, 0.27) + rng.uniform(0.2, 0.8))
            start, end = clock, round(clock + length, 2)
            turn_rows.append((call_id, index, speaker, text, start, end))
            clock = round(end + rng.uniform(0.15, 1.2), 2)
        _, agent_name, team = agent_by_id[plan.agent_id]
        call_rows.append(
            (call_id, plan.borrower_id, plan.agent_id, agent_name, team, started,
             math.ceil(clock + rng.uniform(1, 4)), outcome, plan.product, plan.overdue_bucket)
        )  # fmt: skip
        truth_rows.append((call_id, *truth))

    calls = pd.DataFrame(call_rows, columns=list(CALL_COLUMNS))
    calls["started_at"] = (
        pd.to_datetime(calls["started_at"]).astype("datetime64[ns]").dt.tz_localize(TIMEZONE)
    )
    calls["duration_s"] = calls["duration_s"].astype("int64")
    turns_df = pd.DataFrame(turn_rows, columns=list(TURN_COLUMNS))
    turns_df["turn_index"] = turns_df["turn_index"].astype("int64")
    turns_df[["start_s", "end_s"]] = turns_df[["start_s", "end_s"]].astype("float64")
    call_truth = pd.DataFrame(
        truth_rows, columns=["call_id", "plan_offered", "violations", "asr", "campaign"]
    )
    return calls, turns_df, call_truth


__all__ = [
    "AGENTS",
    "CALL_COLUMNS",
    "CHANNELS",
    "DEFAULT_TODAY",
    "EXPERIENCES",
    "ORGANISATION",
    "OUTCOMES",
    "OVERDUE_BUCKETS",
    "PRODUCTS",
    "REGIONS",
    "SHORTHAND",
    "SURVEY_COLUMNS",
    "TACTIC_KEYWORDS",
    "TEAMS",
    "TRADITIONAL",
    "TRADITIONAL_ONLY_CHARS",
    "TURN_COLUMNS",
    "TYPOS",
    "VIOLATING_AGENTS",
    "DemoData",
    "generate_demo",
    "harsh_campaign_month",
]
