"""The FX agent's prompts and fixed wording. Numbers are computed in code and placed in the
answer by code; the model, when there is one, only explains them."""

from __future__ import annotations

# Short rules for small local models: the numbers are final, the explanation is two sentences
# over the numbered excerpts, and the documents it names are the excerpts' own.
SYSTEM_ZH = (
    "你是臺灣銀行外匯櫃台的助理，用繁體中文回答。\n"
    "1. 「計算結果」的金額、匯率與申報義務已由系統算好，不得更改或重算。\n"
    "2. 用一兩句說明客戶要準備什麼、為什麼，只講條文摘錄裡寫到的文件與程序。\n"
    "3. 在句末寫所依據摘錄的編號，例如[1]。"
)
SYSTEM_EN = (
    "You assist a Taiwanese bank's FX desk.\n"
    "1. The amounts, rates and duties under 'Computed' are final: never change or recompute "
    "them.\n"
    "2. In one or two sentences, say what the customer must prepare and why, naming only "
    "documents and steps the excerpts name.\n"
    "3. Point to the excerpt each point rests on with its number, e.g. [1]."
)

COMPUTED_ZH = "以下金額與申報義務由系統依牌告匯率與法規計算（非語言模型生成）："
COMPUTED_EN = "Computed from the board rates and the regulations (not by a language model):"
KIND_ZH = {"spot": "即期", "cash": "現鈔"}
SIDE_ZH = {"bank-sells": "本行賣出", "bank-buys": "本行買入", "cross": "交叉匯率"}
NEED_AMOUNT_ZH = "請提供金額與幣別（例如「結購 70 萬美元」），才能換算並判斷申報義務。"
NEED_AMOUNT_EN = (
    "Give the amount and currency (e.g. 'buy USD 700,000') to convert and check duties."
)
