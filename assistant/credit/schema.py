"""The fixed schema that statement line items are mapped onto.

Labels come from the general vocabulary of Taiwanese IFRS (TIFRS) statements as filed on MOPS,
not from one company's report: the same line is printed 營業收入合計, 營業收入淨額 or 營業收入;
本期淨利（淨損）, 本年度淨利 or 淨利; 負債總計, 負債合計 or 負債總額. Labels are compared after
``normalise_label`` (no spaces, no note references, no parenthesised alternatives such as
（淨損）, one dash and one 台/臺), so each synonym is written once in that form.

Account codes (1XXX, 21XX, 4000, AAAA, B02700 …) are the TIFRS taxonomy codes most MOPS reports
print beside each line. They are a fallback only: some auditors omit them and a few reuse a code
for a different line, so a label match always wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BALANCE_SHEET = "balance_sheet"
INCOME_STATEMENT = "income_statement"
CASH_FLOW = "cash_flow"
STATEMENT_KINDS: tuple[str, ...] = (BALANCE_SHEET, INCOME_STATEMENT, CASH_FLOW)

# Titles as printed, normalised: consolidated (合併), parent-only (個體) and plain. A report
# holds one set; the first statement of each kind found is read.
TITLES: dict[str, tuple[str, ...]] = {
    BALANCE_SHEET: ("合併資產負債表", "個體資產負債表", "資產負債表"),
    INCOME_STATEMENT: (
        "合併綜合損益表",
        "個體綜合損益表",
        "合併損益表",
        "個體損益表",
        "綜合損益表",
        "損益表",
    ),
    CASH_FLOW: ("合併現金流量表", "個體現金流量表", "現金流量表"),
}
STATEMENT_ZH: dict[str, str] = {
    BALANCE_SHEET: "資產負債表 balance sheet",
    INCOME_STATEMENT: "綜合損益表 statement of comprehensive income",
    CASH_FLOW: "現金流量表 cash flow statement",
}


@dataclass(frozen=True)
class ItemDef:
    """One schema line item.

    ``labels`` are normalised synonyms in order of preference (the first that occurs wins);
    ``codes`` TIFRS account codes used when no label matches; ``under`` words one of which the
    nearest heading above the line must contain (「淨利歸屬於：」 above 「母公司業主」) and
    ``not_under`` words it must not (「綜合損益總額歸屬於：」);
    ``fallback`` other statements to look in when the item's own statement lacks it.
    """

    name: str
    statement: str
    zh: str
    en: str
    labels: tuple[str, ...]
    codes: tuple[str, ...] = ()
    per_share: bool = False
    under: tuple[str, ...] = ()
    not_under: tuple[str, ...] = ()
    fallback: tuple[str, ...] = ()


_BS, _IS, _CF = BALANCE_SHEET, INCOME_STATEMENT, CASH_FLOW

ITEMS_LIST: tuple[ItemDef, ...] = (
    # 資產負債表 balance sheet (instants)
    ItemDef(
        "cash",
        _BS,
        "現金及約當現金",
        "cash and cash equivalents",
        ("現金及約當現金", "現金及約當現金合計"),
        ("1100",),
    ),
    ItemDef(
        "notes_receivable",
        _BS,
        "應收票據淨額",
        "notes receivable, net",
        ("應收票據淨額", "應收票據"),
        ("1150",),
    ),
    ItemDef(
        "accounts_receivable",
        _BS,
        "應收帳款淨額",
        "accounts receivable, net",
        ("應收帳款淨額", "應收帳款"),
        ("1170",),
    ),
    ItemDef(
        "accounts_receivable_related",
        _BS,
        "應收帳款－關係人淨額",
        "accounts receivable from related parties, net",
        ("應收帳款關係人淨額", "應收帳款關係人", "應收關係人款項淨額", "應收關係人款項"),
        ("1180",),
    ),
    ItemDef(
        "inventories",
        _BS,
        "存貨",
        "inventories",
        ("存貨淨額", "存貨", "存貨合計"),
        ("130X", "1300", "1310"),
    ),
    ItemDef(
        "prepayments",
        _BS,
        "預付款項",
        "prepayments",
        ("預付款項", "預付款項合計", "預付費用"),
        ("1410",),
    ),
    ItemDef(
        "current_assets",
        _BS,
        "流動資產合計",
        "total current assets",
        ("流動資產合計", "流動資產總計", "流動資產總額"),
        ("11XX",),
    ),
    ItemDef(
        "property_plant_equipment",
        _BS,
        "不動產、廠房及設備",
        "property, plant and equipment",
        (
            "不動產、廠房及設備淨額",
            "不動產、廠房及設備",
            "不動產廠房及設備淨額",
            "不動產廠房及設備",
        ),
        ("1600",),
    ),
    ItemDef(
        "non_current_assets",
        _BS,
        "非流動資產合計",
        "total non-current assets",
        ("非流動資產合計", "非流動資產總計", "非流動資產總額"),
        ("15XX",),
    ),
    ItemDef(
        "total_assets",
        _BS,
        "資產總計",
        "total assets",
        ("資產總計", "資產合計", "資產總額"),
        ("1XXX", "1XXXX"),
    ),
    ItemDef(
        "short_term_borrowings",
        _BS,
        "短期借款",
        "short-term borrowings",
        ("短期借款", "短期借款合計", "銀行借款"),
        ("2100",),
    ),
    ItemDef(
        "short_term_notes_payable",
        _BS,
        "應付短期票券",
        "short-term notes payable",
        ("應付短期票券", "應付短期票券淨額"),
        ("2110",),
    ),
    ItemDef(
        "accounts_payable",
        _BS,
        "應付帳款",
        "accounts payable",
        ("應付帳款", "應付帳款合計"),
        ("2170",),
    ),
    ItemDef(
        "current_portion_long_term_debt",
        _BS,
        "一年或一營業週期內到期長期負債",
        "current portion of long-term liabilities",
        (
            "一年或一營業週期內到期長期負債",
            "一年或一營業週期內到期之長期負債",
            "一年內到期長期負債",
            "一年內到期之長期負債",
            "一年內到期之長期借款",
            "一年內到期長期借款",
            "一年或一營業週期內到期長期借款",
        ),
        ("2320",),
    ),
    ItemDef(
        "current_liabilities",
        _BS,
        "流動負債合計",
        "total current liabilities",
        ("流動負債合計", "流動負債總計", "流動負債總額"),
        ("21XX",),
    ),
    ItemDef(
        "bonds_payable",
        _BS,
        "應付公司債",
        "bonds payable",
        ("應付公司債", "應付公司債淨額"),
        ("2530",),
    ),
    ItemDef(
        "long_term_borrowings",
        _BS,
        "長期借款",
        "long-term borrowings",
        ("長期借款", "長期銀行借款", "長期借款淨額"),
        ("2540",),
    ),
    ItemDef(
        "non_current_liabilities",
        _BS,
        "非流動負債合計",
        "total non-current liabilities",
        ("非流動負債合計", "非流動負債總計", "非流動負債總額"),
        ("25XX",),
    ),
    ItemDef(
        "total_liabilities",
        _BS,
        "負債總計",
        "total liabilities",
        ("負債總計", "負債合計", "負債總額"),
        ("2XXX", "2XXXX"),
    ),
    ItemDef(
        "share_capital",
        _BS,
        "股本",
        "share capital",
        ("股本合計", "普通股股本", "股本", "普通股"),
        ("3100", "3110"),
    ),
    ItemDef(
        "retained_earnings",
        _BS,
        "保留盈餘",
        "retained earnings",
        ("保留盈餘合計", "保留盈餘總計", "保留盈餘"),
        ("3300",),
    ),
    ItemDef(
        "equity_attributable_to_parent",
        _BS,
        "歸屬於母公司業主之權益合計",
        "equity attributable to owners of the parent",
        (
            "歸屬於母公司業主之權益合計",
            "歸屬於母公司業主之權益總計",
            "母公司業主權益合計",
            "母公司業主權益總計",
            "母公司業主之權益合計",
            "母公司業主之權益總計",
            "歸屬於母公司業主權益合計",
            "歸屬於母公司業主權益總計",
            "歸屬於母公司業主之權益",
            # 「小計」: the subtotal above 非控制權益 in some auditors' layouts.
            "歸屬於母公司業主之權益小計",
            "歸屬於母公司業主權益小計",
            "母公司業主權益小計",
            "母公司業主之權益小計",
            "歸屬母公司業主之權益合計",
            "歸屬母公司業主權益合計",
        ),
        ("31XX",),
    ),
    ItemDef(
        "non_controlling_interests",
        _BS,
        "非控制權益",
        "non-controlling interests",
        ("非控制權益", "非控制權益合計"),
        ("36XX",),
    ),
    ItemDef(
        "total_equity",
        _BS,
        "權益總計",
        "total equity",
        ("權益總計", "權益合計", "權益總額"),
        ("3XXX", "3XXXX"),
    ),
    ItemDef(
        "total_liabilities_and_equity",
        _BS,
        "負債及權益總計",
        "total liabilities and equity",
        (
            "負債及權益總計",
            "負債與權益總計",
            "負債及權益合計",
            "負債與權益合計",
            "負債及權益總額",
            "負債與權益總額",
        ),
    ),
    # 綜合損益表 statement of comprehensive income (durations)
    ItemDef(
        "revenue",
        _IS,
        "營業收入",
        "operating revenue",
        # 銷貨收入淨額 last: the revenue of a company that sells goods only (4100 without a
        # 4000 total); where other revenue lines are printed their total wins, and a partial
        # figure would fail the gross-profit check.
        (
            "營業收入合計",
            "營業收入淨額",
            "營業收入",
            "營業收入總額",
            "收入合計",
            "收入淨額",
            "銷貨收入淨額",
        ),
        ("4000",),
    ),
    ItemDef(
        "cost_of_revenue",
        _IS,
        "營業成本",
        "operating costs",
        ("營業成本合計", "營業成本"),
        ("5000",),
    ),
    ItemDef(
        "gross_profit",
        _IS,
        "營業毛利",
        "gross profit",
        ("營業毛利淨額", "已實現營業毛利", "營業毛利", "營業毛利合計"),
        ("5950", "5900"),
    ),
    ItemDef(
        "gross_profit_before_unrealised",
        _IS,
        "營業毛利（未計關聯企業間未實現損益）",
        "gross profit before unrealised intercompany profit",
        ("營業毛利", "營業毛利合計", "營業毛損", "營業毛利毛損"),
        ("5900",),
    ),
    ItemDef(
        "operating_expenses",
        _IS,
        "營業費用合計",
        "operating expenses",
        ("營業費用合計", "營業費用總計"),
        ("6000",),
    ),
    ItemDef(
        "operating_income",
        _IS,
        "營業利益",
        "operating income",
        ("營業利益", "營業淨利", "營業損失", "營業淨損", "營業利益合計"),
        ("6900",),
    ),
    ItemDef(
        "interest_expense",
        _IS,
        "財務成本",
        "finance costs (interest expense)",
        ("財務成本", "財務成本淨額", "利息費用", "利息支出"),
        ("7050", "7510"),
        fallback=(_CF,),
    ),
    ItemDef("interest_income", _IS, "利息收入", "interest income", ("利息收入",), ("7100",)),
    ItemDef(
        "non_operating_income",
        _IS,
        "營業外收入及支出合計",
        "total non-operating income and expenses",
        ("營業外收入及支出合計", "營業外收入及支出淨額", "營業外收入及支出"),
        ("7000",),
    ),
    ItemDef(
        "income_before_tax",
        _IS,
        "稅前淨利",
        "income before income tax",
        (
            "稅前淨利",
            "稅前淨損",
            "本期稅前淨利",
            "本年度稅前淨利",
            "繼續營業單位稅前淨利",
            "繼續營業單位稅前淨損",
            "稅前利益",
            "稅前損益",
        ),
        ("7900",),
        fallback=(_CF,),
    ),
    ItemDef(
        "income_tax",
        _IS,
        "所得稅費用",
        "income tax expense",
        ("所得稅費用", "所得稅利益", "所得稅", "所得稅費用合計"),
        ("7950",),
    ),
    ItemDef(
        "net_income",
        _IS,
        "本期淨利",
        "net income",
        (
            "本期淨利",
            "本年度淨利",
            "本期淨損",
            "本年度淨損",
            "淨利",
            "淨損",
            "本期損益",
            "本年度損益",
            "本期淨利合計",
        ),
        ("8200",),
    ),
    ItemDef(
        "net_income_attributable_to_parent",
        _IS,
        "淨利歸屬於母公司業主",
        "net income attributable to owners of the parent",
        ("母公司業主", "本公司業主", "母公司業主淨利", "歸屬於母公司業主"),
        ("8610",),
        under=("淨利", "淨損", "損益歸屬"),
        not_under=("綜合",),
    ),
    ItemDef(
        "comprehensive_income",
        _IS,
        "本期綜合損益總額",
        "total comprehensive income",
        (
            "本期綜合損益總額",
            "本年度綜合損益總額",
            "綜合損益總額",
            "本期綜合利益總額",
            "本年度綜合利益總額",
            "綜合利益總額",
            "綜合損失總額",
        ),
        ("8500",),
    ),
    ItemDef(
        "eps",
        _IS,
        "基本每股盈餘",
        "basic earnings per share (NT$)",
        ("基本每股盈餘", "基本每股盈餘合計", "基本每股盈餘虧損", "基本", "基本每股虧損"),
        ("9750",),
        per_share=True,
        under=("每股盈餘", "每股虧損", "每股"),
    ),
    ItemDef(
        "diluted_eps",
        _IS,
        "稀釋每股盈餘",
        "diluted earnings per share (NT$)",
        ("稀釋每股盈餘", "稀釋每股盈餘合計", "稀釋", "稀釋每股虧損"),
        ("9850",),
        per_share=True,
        under=("每股盈餘", "每股虧損", "每股"),
    ),
    # 現金流量表 cash flow statement (durations, year to date)
    ItemDef(
        "depreciation",
        _CF,
        "折舊費用",
        "depreciation",
        ("折舊費用", "折舊", "折舊費用合計"),
        ("A20100",),
    ),
    ItemDef("amortisation", _CF, "攤銷費用", "amortisation", ("攤銷費用", "攤銷"), ("A20200",)),
    ItemDef(
        "operating_cash_flow",
        _CF,
        "營業活動之淨現金流入（流出）",
        "net cash from operating activities",
        (
            "營業活動之淨現金流入",
            "營業活動之淨現金流出",
            "營業活動之淨現金流入流出",
            "營業活動淨現金流入",
            "營業活動淨現金流出",
            "營業活動之淨現金",
            "營業活動之現金流入",
            "營業活動之現金流出",
        ),
        ("AAAA",),
    ),
    ItemDef(
        "capex",
        _CF,
        "取得不動產、廠房及設備",
        "acquisition of property, plant and equipment",
        (
            "取得不動產、廠房及設備",
            "購置不動產、廠房及設備",
            "購買不動產、廠房及設備",
            "取得不動產廠房及設備",
            "購置不動產廠房及設備",
        ),
        ("B02700",),
    ),
    ItemDef(
        "investing_cash_flow",
        _CF,
        "投資活動之淨現金流入（流出）",
        "net cash from investing activities",
        (
            "投資活動之淨現金流入",
            "投資活動之淨現金流出",
            "投資活動淨現金流入",
            "投資活動淨現金流出",
            "投資活動之淨現金",
        ),
        ("BBBB",),
    ),
    ItemDef(
        "financing_cash_flow",
        _CF,
        "籌資活動之淨現金流入（流出）",
        "net cash from financing activities",
        (
            "籌資活動之淨現金流入",
            "籌資活動之淨現金流出",
            "籌資活動淨現金流入",
            "籌資活動淨現金流出",
            "籌資活動之淨現金",
        ),
        ("CCCC",),
    ),
    ItemDef(
        "interest_paid", _CF, "支付之利息", "interest paid", ("支付之利息", "支付利息"), ("A33300",)
    ),
    ItemDef(
        "dividends_paid",
        _CF,
        "發放現金股利",
        "cash dividends paid",
        ("發放現金股利", "支付現金股利", "發放予母公司業主之股利"),
        ("C04500",),
    ),
    ItemDef(
        "fx_effect_on_cash",
        _CF,
        "匯率變動對現金及約當現金之影響",
        "effect of exchange-rate changes on cash",
        (
            "匯率變動對現金及約當現金之影響",
            "匯率變動對現金及約當現金影響",
            "匯率變動對現金及約當現金之影響數",
            "匯率變動對現金及約當現金影響數",
            "匯率變動之影響",
            "匯率變動之影響數",
            "匯率變動影響數",
            "匯率影響數",
        ),
        ("DDDD",),
    ),
    ItemDef(
        "net_change_in_cash",
        _CF,
        "本期現金及約當現金增加（減少）數",
        "net change in cash and cash equivalents",
        (
            "本期現金及約當現金增加數",
            "本期現金及約當現金減少數",
            "本年度現金及約當現金增加數",
            "本年度現金及約當現金減少數",
            "本期現金及約當現金淨增加",
            "本期現金及約當現金淨減少",
            "現金及約當現金淨增加",
            "現金及約當現金淨減少",
            "本期現金及約當現金增加",
            "本期現金及約當現金減少",
            "現金及約當現金增加數",
            "現金及約當現金減少數",
        ),
        ("EEEE",),
    ),
    ItemDef(
        "cash_begin",
        _CF,
        "期初現金及約當現金餘額",
        "cash and cash equivalents at beginning of period",
        (
            "期初現金及約當現金餘額",
            "年初現金及約當現金餘額",
            "期初現金及約當現金",
            "年初現金及約當現金",
        ),
        ("E00100",),
    ),
    ItemDef(
        "cash_end",
        _CF,
        "期末現金及約當現金餘額",
        "cash and cash equivalents at end of period",
        (
            "期末現金及約當現金餘額",
            "年底現金及約當現金餘額",
            "年末現金及約當現金餘額",
            "期末現金及約當現金",
            "年底現金及約當現金",
        ),
        ("E00200",),
    ),
)

ITEMS: dict[str, ItemDef] = {d.name: d for d in ITEMS_LIST}
ITEM_NAMES: tuple[str, ...] = tuple(ITEMS)

# The balance-sheet totals the eval reports on their own: a wrong total is the costliest error.
BALANCE_SHEET_TOTALS: tuple[str, ...] = (
    "current_assets",
    "non_current_assets",
    "total_assets",
    "current_liabilities",
    "non_current_liabilities",
    "total_liabilities",
    "equity_attributable_to_parent",
    "total_equity",
    "total_liabilities_and_equity",
)

_NOTE = re.compile(r"[（(][^（()）]*?附\s*註[^）)]*[）)]")
# A note whose closing parenthesis went with the rest of a wrapped label (「（附註四及二」).
_OPEN_NOTE = re.compile(r"[（(]附\s*註[^（()）]*$")
_PAREN = re.compile(r"[（(][^（()）]*[）)]")
_DASHES = re.compile(r"[—－\-–─‐‑_~～·•．]")


def _without_parens(s: str) -> str:
    prev = None
    while prev != s:
        prev, s = s, _PAREN.sub("", s)
    return s


def normalise_label(text: str) -> str:
    """A printed label in the form the synonyms are written in.

    「1XXX 資  產  總  計」→「資產總計」，「存貨—淨額（附註十二）」→「存貨淨額」，
    「本期淨利（淨損）」→「本期淨利」，「減：營業成本」→「營業成本」.
    """
    s = "".join(text.split())
    s = s.replace("臺", "台").replace("(", "（").replace(")", "）")
    s = s.replace("營運活動", "營業活動")  # 「營運活動之淨現金流入」: the same line
    # Alternatives in parentheses (（淨損）, （流出）, （毛損）) and notes without 附註 go too,
    # innermost first, so that a nested note (「（附註六（二十）及七）」) goes whole; then a
    # note left open by a wrapped label (「（附註四及二」).
    s = _without_parens(s)
    s = _NOTE.sub("", s)
    s = _without_parens(s)
    s = _OPEN_NOTE.sub("", s)
    s = _DASHES.sub("", s)
    s = re.sub(r"^(?:[加減][：:]|[一二三四五六七八九十]+[、．.]|\d+[、.．])", "", s)
    return s.rstrip("：:")
