"""The FX agent's prompts and fixed wording. Numbers are computed in code and placed in the
answer by code; the model, when there is one, only explains them."""

from __future__ import annotations

SYSTEM_ZH = (
    "你是臺灣銀行外匯櫃台的助理。「計算結果」中的金額、匯率與申報義務都已由系統計算，"
    "不得更改或重算，只需用繁體中文簡潔說明客戶要準備什麼、為什麼，"
    "並以〔法規名稱第N條〕標註依據；參考條文沒有的內容不要說。"
)
SYSTEM_EN = (
    "You assist a Taiwanese bank's FX desk. The amounts, rates and duties under 'Computed' are "
    "final: never change or recompute them. Explain briefly what the customer must prepare and "
    "why, citing 〔Law Article N〕 from the reference articles only."
)

COMPUTED_ZH = "以下金額與申報義務由系統依牌告匯率與法規計算（非語言模型生成）："
COMPUTED_EN = "Computed from the board rates and the regulations (not by a language model):"
KIND_ZH = {"spot": "即期", "cash": "現鈔"}
SIDE_ZH = {"bank-sells": "本行賣出", "bank-buys": "本行買入", "cross": "交叉匯率"}
NEED_AMOUNT_ZH = "請提供金額與幣別（例如「結購 70 萬美元」），才能換算並判斷申報義務。"
NEED_AMOUNT_EN = (
    "Give the amount and currency (e.g. 'buy USD 700,000') to convert and check duties."
)
