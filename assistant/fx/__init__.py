"""The FX desk's domain service: board rates, conversion on the correct side, and the
declaration duties of 管理外匯條例 and 外匯收支或交易申報辦法. Plain Python, no model inside."""
