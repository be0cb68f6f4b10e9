"""Probability of default (PD): a calibrated gradient-boosted model over any tabular CSV.

Input. A CSV (UTF-8, with or without BOM; Big5/cp950 accepted, as many Taiwanese exports
are) with a header row, a 0/1 target column and an optional id column. Line numbers in
reports are the file's physical lines: the header is line 1.

Column types (``infer_schema``). A column is *numeric* when at least ``NUMERIC_SHARE`` of its
non-missing values read as numbers (full-width digits, thousands separators ``1,234`` and
accounting negatives ``(1,234)`` are accepted); any other column is *categorical*. Missing
values (blank, ``NA``, ``N/A``, ``null``, ``-``, ``?`` …) are kept as missing: the model
handles them natively (``HistGradientBoostingClassifier`` learns which side of each split a
missing value goes), so no row is dropped or imputed for being incomplete.

Categoricals: the ``MAX_CATEGORIES`` most frequent values seen at least ``MIN_CATEGORY_COUNT``
times become categories of the model's native categorical splits; rarer values, and values
first seen at scoring time, share one "其他 / other" category. A categorical column whose
values are almost all distinct (names, free text, account numbers) carries no learnable
pattern and is left out, and the training report says so.

Bad rows. A value that does not read as a number in a numeric column, or a missing target,
makes the row *bad*: it is reported with its line, column and value, counted, and not used.
A target value that is none of the accepted spellings (``TARGET_YES`` / ``TARGET_NO``) is not
a bad row but a wrong column: training is refused, naming the values.

Engineered features (``plan_engineering``), named ``eng_…`` and flagged ``engineered``: they
follow from the general meaning of column *names*, so they apply to any file with such
columns and simply do not appear when the columns are absent:

- utilisation ``eng_util_<bill>`` = bill or balance / credit limit, and their mean;
- payment ratio ``eng_payratio_<pay>`` = payment / bill with the same number suffix, and
  total paid / total billed; paid / limit;
- repayment status series (``PAY_0``, ``STATUS_3``, ``逾期2`` …: months late): worst, count of
  late months, mean.

A ratio whose denominator is zero or negative is missing, not infinite.

Model: ``HistGradientBoostingClassifier`` with Platt scaling (sigmoid) fitted on out-of-fold
scores. Training makes ``CV_FOLDS`` stratified folds, fits a booster on each two-thirds and
scores the held-out third; those out-of-fold scores give the cross-validated AUC and Brier
score reported, and fit the sigmoid; then one booster is fitted on all rows. This is what
``CalibratedClassifierCV(ensemble=False)`` does, done by hand so the out-of-fold scores (and
hence an honest AUC) come for free instead of costing another round of fits. Sigmoid rather
than isotonic so the score stays smooth and the median-replacement reasons below never vanish
on a flat isotonic step.

Reasons (``PDModel.explain``): for each model feature, the applicant's PD minus the PD with
that one feature replaced by its training median (numeric) or most common category
(categorical), all other features unchanged. Positive: the value pushed the PD up. It is a
one-at-a-time sensitivity, not a Shapley value: interactions are not shared out fairly and
the contributions need not add up to the PD.

Files: joblib (a pickle: load only files this system wrote), written to a temporary file and
renamed, so a failed training never touches the previous model.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
import tempfile
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from assistant.errors import AssistantError
from assistant.textfiles import decode

MODEL_VERSION = "credit-pd-hgb-platt/1"
FILE_KIND = "twfin-credit-pd"
MODEL_FILE = Path("credit") / "pd_model.joblib"

NUMERIC_SHARE = 0.9
MAX_CATEGORIES = 50
MIN_CATEGORY_COUNT = 5
ID_LIKE_SHARE = 0.5  # a categorical with more distinct values than this share is id-like
CV_FOLDS = 3  # out-of-fold scores for Platt scaling and the AUC; 3 keeps 30k rows near 20 s
# OpenMP threads for the booster. One: at these sizes (thousands to ~100k rows, tens of
# features) a second thread gains little, while on a busy machine OpenMP's spinning threads
# collapse when a core is taken by another process (measured on a shared 2-core host: an
# 800-row fit took 7.7 s with the default threads and 0.07 s with one).
THREADS = 1
MIN_CLASS = 5  # fewer of either class than this: nothing to learn or to validate

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "—", "?", "#n/a"})
TARGET_YES = frozenset({"1", "1.0", "y", "yes", "true", "t", "是", "違約", "default"})
TARGET_NO = frozenset({"0", "0.0", "n", "no", "false", "f", "否", "正常", "non-default"})

Kind = Literal["numeric", "categorical"]


def model_path(data_dir: Path) -> Path:
    """Where the trained PD model lives: ``data_dir/credit/pd_model.joblib``."""
    return Path(data_dir) / MODEL_FILE


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RawTable:
    header: list[str]
    rows: list[list[str]]
    lines: list[int]  # physical line of each row's first line (header = line 1)
    sha256: str
    source: str


def parse_table(text: str, *, source: str = "<text>", sha256: str = "") -> RawTable:
    """The header and rows of CSV text, each row with its line number; blank lines skipped."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise AssistantError(f"檔案是空的 / {source} is empty") from None
    except csv.Error as exc:
        raise AssistantError(f"CSV 格式錯誤 / {source}: {exc}") from exc
    if not any(header):
        raise AssistantError(f"第 1 行沒有欄位名稱 / {source}: line 1 has no column names")
    dupes = sorted(n for n, c in Counter(header).items() if c > 1 and n)
    if dupes:
        raise AssistantError(f"欄位名稱重複 / duplicate column names in {source}: {dupes}")
    rows: list[list[str]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise AssistantError(f"CSV 格式錯誤 / {source} line {start}: {exc}") from exc
    return RawTable(header, rows, lines, sha256, source)


def read_table(path: str | Path) -> RawTable:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AssistantError(f"無法讀取檔案 / cannot read {path}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    return parse_table(decode(data, str(path)), source=str(path), sha256=digest)


def _is_missing(text: str) -> bool:
    return text.strip().lower() in MISSING


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def parse_number(text: str) -> float | None:
    """A number written as a bank export writes it, or None if the text is not one.
    NFKC folds full-width digits and signs; commas are thousands separators; ``(1,234)``
    is an accounting negative; a trailing ``%`` divides by 100."""
    s = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace(" ", "")
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1]
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    if not _NUMBER.fullmatch(s):
        return None
    value = float(s)
    if not math.isfinite(value):
        return None
    value = -value if negative else value
    return value / 100 if percent else value


def parse_target(text: str) -> int | None:
    """1 (default), 0 (no default), or None when missing; ValueError for anything else."""
    s = unicodedata.normalize("NFKC", text).strip().lower()
    if s in MISSING:
        return None
    if s in TARGET_YES:
        return 1
    if s in TARGET_NO:
        return 0
    raise ValueError(s)


# ------------------------------------------------------------------ schema


@dataclass
class ColumnSpec:
    name: str
    kind: Kind
    categories: list[str] = field(default_factory=list)  # code i = categories[i]; len = other

    def encode(self, text: str) -> float | None:
        """The model's value for ``text``: NaN when missing, None when unreadable."""
        if _is_missing(text):
            return math.nan
        if self.kind == "numeric":
            return parse_number(text)
        key = unicodedata.normalize("NFKC", text).strip()
        try:
            return float(self.categories.index(key))
        except ValueError:
            return float(len(self.categories))  # rare or unseen: "other"


@dataclass
class Schema:
    columns: list[ColumnSpec]
    dropped: dict[str, str]  # column -> why it is not a feature
    notes: list[str]


def infer_schema(table: RawTable, exclude: Iterable[str]) -> Schema:
    """Each column's type and categories (module docstring), from its non-missing values."""
    skip = set(exclude)
    columns: list[ColumnSpec] = []
    dropped: dict[str, str] = {}
    notes: list[str] = []
    for j, name in enumerate(table.header):
        if not name or name in skip:
            continue
        values = [row[j] for row in table.rows if j < len(row) and not _is_missing(row[j])]
        if not values:
            dropped[name] = "全部空白 / every value is missing"
            continue
        numeric = sum(parse_number(v) is not None for v in values)
        if numeric >= NUMERIC_SHARE * len(values):
            columns.append(ColumnSpec(name, "numeric"))
            if numeric == len(values) == len(table.rows) and len(set(values)) == len(values) > 50:
                notes.append(
                    f"「{name}」每列皆不同，若是識別碼請用 --id-column / every value of {name!r} "
                    "is distinct: if it is an identifier, pass it as --id-column"
                )
            continue
        keys = [unicodedata.normalize("NFKC", v).strip() for v in values]
        counts = Counter(keys)
        if len(values) > 20 and len(counts) > ID_LIKE_SHARE * len(values):
            dropped[name] = (
                "類別值幾乎都不同（像識別碼或自由文字）/ almost every value is distinct "
                "(an identifier or free text)"
            )
            continue
        cats = [k for k, c in counts.most_common(MAX_CATEGORIES) if c >= MIN_CATEGORY_COUNT]
        if not cats:
            dropped[name] = "沒有出現 5 次以上的類別 / no category seen 5 times or more"
            continue
        columns.append(ColumnSpec(name, "categorical", sorted(cats)))
    if not columns:
        raise AssistantError("沒有可用的特徵欄位 / the file has no usable feature columns")
    return Schema(columns, dropped, notes)


def encode_rows(
    table: RawTable, specs: Sequence[ColumnSpec]
) -> tuple[np.ndarray, np.ndarray, list[RowError]]:
    """The raw feature matrix, a mask of good rows and the errors of the bad ones. A missing
    column is an error naming it (``require_columns``)."""
    require_columns(table.header, [s.name for s in specs], table.source)
    index = {name: j for j, name in enumerate(table.header)}
    X = np.full((len(table.rows), len(specs)), np.nan)
    good = np.ones(len(table.rows), dtype=bool)
    errors: list[RowError] = []
    for i, row in enumerate(table.rows):
        line = table.lines[i]
        if len(row) > len(table.header):
            # a stray delimiter shifts every later value into the wrong column
            errors.append(
                RowError(
                    line,
                    "",
                    ",".join(row),
                    f"欄位數 {len(row)} 多於表頭 {len(table.header)} / "
                    f"{len(row)} fields, header has {len(table.header)}",
                )
            )
            good[i] = False
            continue
        for k, spec in enumerate(specs):
            j = index[spec.name]
            text = row[j] if j < len(row) else ""
            value = spec.encode(text)
            if value is None:
                errors.append(RowError(line, spec.name, text, "不是數字 / not a number"))
                good[i] = False
            else:
                X[i, k] = value
    return X, good, errors


def require_columns(header: Sequence[str], needed: Iterable[str], source: str) -> None:
    missing = [n for n in needed if n not in set(header)]
    if missing:
        raise AssistantError(
            f"輸入缺少模型需要的欄位 {missing} / {source} lacks the column(s) {missing} "
            "the model was trained on"
        )


# ------------------------------------------------------------------ engineered features

_LIMIT = re.compile(r"limit|credit_?line|額度", re.I)
_PAYAMT = re.compile(r"pay_?amt|payment|paid|repaid|繳款|還款金額|付款", re.I)
_BILL = re.compile(r"bill|balance|stmt|statement|帳單|餘額|應繳", re.I)
_STATUS = re.compile(r"^(pay|status|delinq\w*|逾期|還款狀態)[ _]?\d+$", re.I)
_SUFFIX = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Engineered:
    name: str
    op: Literal["ratio", "sum_ratio", "mean_ratio", "max", "count_pos", "mean"]
    inputs: tuple[str, ...]  # ratios: the numerator columns, then the denominator columns
    zh: str
    en: str
    numerators: int = 1  # how many of ``inputs`` are summed above the line (ratio ops)


def plan_engineering(columns: Sequence[ColumnSpec]) -> list[Engineered]:
    """The engineered features this file's numeric columns allow (module docstring)."""
    numeric = [c.name for c in columns if c.kind == "numeric"]
    limit = next((n for n in numeric if _LIMIT.search(n)), None)
    status = [n for n in numeric if _STATUS.match(n) and not _PAYAMT.search(n)]
    pays = [n for n in numeric if _PAYAMT.search(n) and n not in status and n != limit]
    bills = [
        n for n in numeric if _BILL.search(n) and n != limit and n not in pays and n not in status
    ]
    out: list[Engineered] = []
    if limit:
        for b in bills:
            out.append(
                Engineered(
                    f"eng_util_{b}",
                    "ratio",
                    (b, limit),
                    f"額度使用率（{b}÷{limit}）",
                    f"utilisation {b}/{limit}",
                )
            )
        if len(bills) > 1:
            out.append(
                Engineered(
                    "eng_util_mean",
                    "mean_ratio",
                    (*bills, limit),
                    "平均額度使用率",
                    f"mean utilisation of {len(bills)} bills/limit",
                    len(bills),
                )
            )
        if pays:
            out.append(
                Engineered(
                    "eng_paid_to_limit",
                    "sum_ratio",
                    (*pays, limit),
                    "繳款總額占額度比",
                    "total paid / limit",
                    len(pays),
                )
            )
    by_suffix = {m.group(1): b for b in bills if (m := _SUFFIX.search(b))}
    for p in pays:
        m = _SUFFIX.search(p)
        if m and m.group(1) in by_suffix:
            b = by_suffix[m.group(1)]
            out.append(
                Engineered(
                    f"eng_payratio_{p}",
                    "ratio",
                    (p, b),
                    f"繳款比率（{p}÷{b}）",
                    f"payment ratio {p}/{b}",
                )
            )
    if pays and bills:
        out.append(
            Engineered(
                "eng_payratio_total",
                "sum_ratio",
                (*pays, *bills),
                "總繳款÷總帳單",
                "total paid / total billed",
                len(pays),
            )
        )
    if len(status) > 1:
        s = tuple(status)
        out.append(
            Engineered(
                "eng_status_worst",
                "max",
                s,
                "最差還款狀態（延遲月數）",
                "worst repayment status (months late)",
            )
        )
        out.append(
            Engineered(
                "eng_status_late_count",
                "count_pos",
                s,
                "延遲還款期數",
                "number of periods paid late",
            )
        )
        out.append(
            Engineered("eng_status_mean", "mean", s, "平均還款狀態", "mean repayment status")
        )
    return out


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    out[ok] = num[ok] / den[ok]
    return out


def compute_engineered(
    plan: Sequence[Engineered], raw_names: Sequence[str], X: np.ndarray
) -> np.ndarray:
    """The engineered columns (one per ``plan`` entry) from the raw feature matrix."""
    col = {n: j for j, n in enumerate(raw_names)}
    out = np.full((len(X), len(plan)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows in nanmax / nanmean
        for k, e in enumerate(plan):
            cols = X[:, [col[n] for n in e.inputs]]
            top, bottom = cols[:, : e.numerators], cols[:, e.numerators :]
            if e.op == "ratio":
                out[:, k] = _safe_ratio(top[:, 0], bottom[:, 0])
            elif e.op == "sum_ratio":
                out[:, k] = _safe_ratio(np.nansum(top, axis=1), np.nansum(bottom, axis=1))
            elif e.op == "mean_ratio":
                out[:, k] = _safe_ratio(np.nanmean(top, axis=1), bottom[:, 0])
            elif e.op == "max":
                out[:, k] = np.nanmax(cols, axis=1)
            elif e.op == "count_pos":
                out[:, k] = np.where(np.isnan(cols).all(axis=1), np.nan, (cols > 0).sum(axis=1))
            else:
                out[:, k] = np.nanmean(cols, axis=1)
    return out


# ------------------------------------------------------------------ words for columns

# Generic meanings of common column names, so a reason reads as banking language. Any
# other column is named as it is in the file.
_WORDS: list[tuple[re.Pattern[str], str]] = [
    (_LIMIT, "授信額度"),
    (_STATUS, "還款狀態（延遲月數）"),
    (_PAYAMT, "繳款金額"),
    (_BILL, "帳單／餘額"),
    (re.compile(r"^age$|年齡", re.I), "年齡"),
    (re.compile(r"^sex$|gender|性別", re.I), "性別"),
    (re.compile(r"educ|學歷", re.I), "教育程度"),
    (re.compile(r"marri|婚姻", re.I), "婚姻狀況"),
    (re.compile(r"income|salary|收入|薪資", re.I), "收入"),
    (re.compile(r"debt|負債", re.I), "負債"),
    (re.compile(r"loan|借款|貸款", re.I), "借款"),
    (re.compile(r"employ|年資|職業", re.I), "就業"),
    (re.compile(r"inquir|查詢", re.I), "信用查詢"),
]


def column_words(name: str) -> str:
    for pattern, zh in _WORDS:
        if pattern.search(name):
            return zh
    return name


# ------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Reason:
    feature: str
    engineered: bool
    value: float | str  # str for a categorical's category
    reference: float | str  # the training median / most common category it is compared with
    contribution: float  # PD change, in probability (0.05 = 5 percentage points)
    zh: str
    en: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainReport:
    path: str
    target: str
    id_column: str | None
    rows_read: int
    rows_used: int
    positives: int
    bad_rows: int
    errors: list[RowError]
    features: list[str]
    engineered: list[str]
    categorical: list[str]
    dropped: dict[str, str]
    notes: list[str]
    cv_auc: float
    cv_brier: float
    seconds: float
    model_file: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = [e.as_dict() for e in self.errors]
        return out


@dataclass
class Prepared:
    """Rows ready for the model: features (raw then engineered), labels, ids, lines."""

    X: np.ndarray
    y: np.ndarray | None
    ids: list[str]
    lines: list[int]
    errors: list[RowError]
    rows_read: int


def booster(seed: int = 0, categorical: np.ndarray | None = None) -> HistGradientBoostingClassifier:
    """The gradient-boosting settings used everywhere (train and eval). Small trees with large
    leaves and some L2: credit data is noisy, and on the UCI file these beat the defaults by
    about half a point of AUC at a third of the time (100 rounds). No early stopping, so a
    result never depends on an internal validation split."""
    return HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        l2_regularization=1.0,
        categorical_features=categorical if categorical is not None and categorical.any() else None,
        early_stopping=False,
        random_state=seed,
    )


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _fit_platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Sigmoid ``p = 1/(1+exp(-(a*logit(raw)+b)))`` fitted by maximum likelihood."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6).fit(_logit(raw)[:, None], y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _apply_platt(raw: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    z = ab[0] * _logit(raw) + ab[1]
    return 1.0 / (1.0 + np.exp(-z))


class PDModel:
    """Fit on a CSV's rows, score rows, explain a score (module docstring for every rule)."""

    def __init__(self, seed: int = 0, folds: int = CV_FOLDS) -> None:
        self.seed = seed
        self.folds = folds
        self.target = ""
        self.id_column: str | None = None
        self.columns: list[ColumnSpec] = []
        self.plan: list[Engineered] = []
        self.reference: np.ndarray | None = None
        self.booster: HistGradientBoostingClassifier | None = None
        self.platt: tuple[float, float] = (1.0, 0.0)
        self.metadata: dict[str, Any] = {}

    # -------------------------------------------------------------- features

    @property
    def raw_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def feature_names(self) -> list[str]:
        return self.raw_names + [e.name for e in self.plan]

    def categorical_mask(self) -> np.ndarray:
        mask = [c.kind == "categorical" for c in self.columns] + [False] * len(self.plan)
        return np.array(mask, dtype=bool)

    def prepare(self, table: RawTable, *, with_target: bool) -> Prepared:
        """Encode ``table`` with this model's schema; bad rows reported, not kept."""
        X, good, errors = encode_rows(table, self.columns)
        y: np.ndarray | None = None
        if with_target:
            require_columns(table.header, [self.target], table.source)
            t = table.header.index(self.target)
            labels = np.zeros(len(table.rows), dtype=int)
            for i, row in enumerate(table.rows):
                value = parse_target(row[t] if t < len(row) else "")
                if value is None:
                    errors.append(
                        RowError(table.lines[i], self.target, "", "缺少目標值 / missing target")
                    )
                    good[i] = False
                else:
                    labels[i] = value
            y = labels[good]
        errors.sort(key=lambda e: e.line)
        if self.id_column and self.id_column in table.header:
            j = table.header.index(self.id_column)
            ids = [row[j].strip() if j < len(row) else "" for row in table.rows]
        else:
            ids = [str(line) for line in table.lines]
        X = X[good]
        full = np.hstack([X, compute_engineered(self.plan, self.raw_names, X)])
        keep = np.flatnonzero(good).tolist()
        return Prepared(
            full, y, [ids[i] for i in keep], [table.lines[i] for i in keep], errors, len(table.rows)
        )

    # -------------------------------------------------------------- fit

    def setup(self, table: RawTable, target: str, id_column: str | None = None) -> Schema:
        """Check the target and id columns, then fix the schema and engineered features from
        ``table`` (no labels are used: safe to do once before cross-validation)."""
        require_columns(table.header, [target] + ([id_column] if id_column else []), table.source)
        _check_target_values(table, target)
        self.target = target
        self.id_column = id_column
        schema = infer_schema(table, exclude=[target, *([id_column] if id_column else [])])
        self.columns = schema.columns
        self.plan = plan_engineering(self.columns)
        return schema

    def fit_table(self, table: RawTable, target: str, id_column: str | None = None) -> TrainReport:
        started = time.perf_counter()
        schema = self.setup(table, target, id_column)
        data = self.prepare(table, with_target=True)
        assert data.y is not None
        if len(data.y) == 0:
            raise AssistantError(
                f"沒有可用的資料列（{len(data.errors)} 個錯誤，第一個在第 {data.errors[0].line} 行："
                f"{data.errors[0].reason}）/ no usable rows in {table.source}"
                if data.errors
                else f"沒有資料列 / no data rows in {table.source}"
            )
        oof = self.fit(data.X, data.y)
        bad_lines = {e.line for e in data.errors}
        self.metadata = {
            "source": table.source,
            "sha256": table.sha256,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows_read": data.rows_read,
            "rows": len(data.y),
            "positives": int(data.y.sum()),
            "bad_rows": len(bad_lines),
            "cv_folds": self.folds,
            "cv_auc": float(roc_auc_score(data.y, oof)),
            "cv_brier": float(brier_score_loss(data.y, oof)),
            "sklearn": sklearn.__version__,
        }
        return TrainReport(
            path=table.source,
            target=target,
            id_column=id_column,
            rows_read=data.rows_read,
            rows_used=len(data.y),
            positives=int(data.y.sum()),
            bad_rows=len(bad_lines),
            errors=data.errors,
            features=self.feature_names,
            engineered=[e.name for e in self.plan],
            categorical=[c.name for c in self.columns if c.kind == "categorical"],
            dropped=schema.dropped,
            notes=schema.notes,
            cv_auc=self.metadata["cv_auc"],
            cv_brier=self.metadata["cv_brier"],
            seconds=round(time.perf_counter() - started, 2),
        )

    def fit(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fit on prepared rows; returns the calibrated out-of-fold PDs (see the docstring)."""
        y = np.asarray(y).astype(int)
        n_pos = int(y.sum())
        if min(n_pos, len(y) - n_pos) < MIN_CLASS:
            raise AssistantError(
                f"違約與正常樣本各需至少 {MIN_CLASS} 筆（目前違約 {n_pos}、正常 {len(y) - n_pos}）/ "
                f"need at least {MIN_CLASS} defaults and {MIN_CLASS} non-defaults "
                f"(have {n_pos} and {len(y) - n_pos})"
            )
        with threadpool_limits(limits=THREADS, user_api="openmp"):
            return self._fit(X, y, n_pos)

    def _fit(self, X: np.ndarray, y: np.ndarray, n_pos: int) -> np.ndarray:
        mask = self.categorical_mask()
        raw_oof = np.full(len(y), np.nan)
        folds = min(self.folds, n_pos, len(y) - n_pos)
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
        for train, test in skf.split(X, y):
            b = booster(self.seed, mask).fit(X[train], y[train])
            raw_oof[test] = b.predict_proba(X[test])[:, 1]
        self.platt = _fit_platt(raw_oof, y)
        self.booster = booster(self.seed, mask).fit(X, y)
        self.reference = self._reference(X)
        return _apply_platt(raw_oof, self.platt)

    def _reference(self, X: np.ndarray) -> np.ndarray:
        """Per feature: the training median, or for a categorical its most common code."""
        ref = np.zeros(X.shape[1])
        mask = self.categorical_mask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column
            for j in range(X.shape[1]):
                col = X[:, j][np.isfinite(X[:, j])]
                if col.size == 0:
                    ref[j] = np.nan
                elif mask[j]:
                    values, counts = np.unique(col, return_counts=True)
                    ref[j] = values[np.argmax(counts)]
                else:
                    ref[j] = float(np.median(col))
        return ref

    # -------------------------------------------------------------- score

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Calibrated PD per prepared row."""
        if self.booster is None:
            raise AssistantError("模型尚未訓練 / the PD model is not trained")
        with threadpool_limits(limits=THREADS, user_api="openmp"):
            raw = self.booster.predict_proba(np.atleast_2d(X))[:, 1]
        return _apply_platt(raw, self.platt)

    def explain(self, x: np.ndarray, top_k: int = 3) -> list[Reason]:
        """The ``top_k`` features whose replacement by the training reference moves the PD
        most, largest |change| first; features with no effect (change < 0.05 point) omitted."""
        return self.explain_many(np.atleast_2d(x), top_k)[0]

    def explain_many(self, X: np.ndarray, top_k: int = 3, chunk: int = 256) -> list[list[Reason]]:
        """``explain`` for many rows, with the probes of ``chunk`` rows scored in one call
        (one call per row is dominated by per-call overhead on a large file)."""
        assert self.reference is not None
        X = np.asarray(X, dtype=float)
        n, k = X.shape
        names = self.feature_names
        out: list[list[Reason]] = []
        for start in range(0, n, chunk):
            block = X[start : start + chunk]
            probe = np.repeat(block, k + 1, axis=0).reshape(len(block), k + 1, k)
            probe[:, np.arange(1, k + 1), np.arange(k)] = self.reference
            p = self.predict(probe.reshape(-1, k)).reshape(len(block), k + 1)
            contrib = p[:, :1] - p[:, 1:]
            for r in range(len(block)):
                reasons: list[Reason] = []
                for j in np.argsort(-np.abs(contrib[r]), kind="stable").tolist():
                    if len(reasons) >= top_k or abs(contrib[r, j]) < 5e-4:
                        break
                    reasons.append(
                        self._reason(names[j], j, float(block[r, j]), float(contrib[r, j]))
                    )
                out.append(reasons)
        return out

    def _reason(self, name: str, j: int, value: float, delta: float) -> Reason:
        assert self.reference is not None
        ref = float(self.reference[j])
        engineered = j >= len(self.columns)
        points = f"{abs(delta) * 100:.1f}"
        up_zh, up_en = ("提高", "raises") if delta > 0 else ("降低", "lowers")
        if engineered:
            e = self.plan[j - len(self.columns)]
            label_zh, label_en = f"{e.zh}（{name}，衍生特徵）", f"{e.name} (engineered: {e.en})"
        else:
            label_zh, label_en = column_words(name), name
        if not engineered and self.columns[j].kind == "categorical":
            spec = self.columns[j]
            shown: float | str = _category(spec, value)
            ref_shown: float | str = _category(spec, ref)
            zh = f"{label_zh}（{name}）為「{shown}」而非最常見的「{ref_shown}」，違約機率{up_zh} {points} 個百分點"
            en = f"{label_en} is {shown!r}, not the most common {ref_shown!r}: {up_en} PD by {points} points"
            return Reason(name, False, shown, ref_shown, delta, zh, en)
        if math.isnan(value):
            side_zh, side_en = "缺值", "is missing"
        else:
            side_zh = "高於" if value > ref else "低於" if value < ref else "等於"
            side_en = "above" if value > ref else "below" if value < ref else "at"
            side_zh = f"= {_fmt(value)}，{side_zh}訓練中位數 {_fmt(ref)}"
            side_en = f"= {_fmt(value)}, {side_en} the training median {_fmt(ref)}"
        name_zh = label_zh if engineered or label_zh == name else f"{label_zh}（{name}）"
        zh = f"{name_zh} {side_zh}，違約機率{up_zh} {points} 個百分點"
        en = f"{label_en} {side_en}: {up_en} PD by {points} points"
        return Reason(name, engineered, value, ref, delta, zh, en)

    def score_table(self, table: RawTable, reasons: int = 3, top: int | None = None) -> ScoreResult:
        """PD of every good row; ``top``: keep only the ``top`` highest, riskiest first (and
        explain only those). Bad rows are returned as errors with their lines."""
        data = self.prepare(table, with_target=False)
        pd_ = self.predict(data.X) if len(data.X) else np.zeros(0)
        order = np.argsort(-pd_, kind="stable")
        if top is not None:
            order = order[:top]
        why = self.explain_many(data.X[order], reasons) if reasons > 0 and len(order) else []
        out = [
            Scored(
                id=data.ids[i],
                line=data.lines[i],
                pd=float(pd_[i]),
                reasons=why[r] if why else [],
            )
            for r, i in enumerate(order.tolist())
        ]
        return ScoreResult(out, data.errors, data.rows_read)

    # -------------------------------------------------------------- files

    def save(self, path: str | Path) -> Path:
        """Write atomically: a temporary file in the same folder, then a rename, so a crash
        or a failed training never leaves a half-written or missing model."""
        if self.booster is None:
            raise AssistantError("模型尚未訓練 / the PD model is not trained")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "kind": FILE_KIND,
            "model_version": MODEL_VERSION,
            "sklearn": sklearn.__version__,
            "target": self.target,
            "id_column": self.id_column,
            "columns": [asdict(c) for c in self.columns],
            "engineered": [asdict(e) for e in self.plan],
            "feature_names": self.feature_names,
            "reference": self.reference,
            "booster": self.booster,
            "platt": self.platt,
            "seed": self.seed,
            "folds": self.folds,
            "metadata": self.metadata,
        }
        fd, tmp = tempfile.mkstemp(prefix=".pd_model.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            joblib.dump(payload, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PDModel:
        path = Path(path)
        if not path.is_file():
            raise AssistantError(
                f"尚未訓練違約機率模型 / no PD model at {path}: run `assistant credit train` first"
            )
        try:
            payload = joblib.load(path)
        except Exception as exc:
            raise AssistantError(f"無法讀取模型檔 / cannot read model file {path}: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("kind") != FILE_KIND:
            raise AssistantError(f"不是違約機率模型檔 / not a PD model file: {path}")
        if payload.get("model_version") != MODEL_VERSION:
            raise AssistantError(
                f"模型版本不符，請重新訓練 / model version {payload.get('model_version')!r}, "
                f"expected {MODEL_VERSION!r}: train again"
            )
        self = cls(seed=payload["seed"], folds=payload["folds"])
        self.target = payload["target"]
        self.id_column = payload["id_column"]
        self.columns = [ColumnSpec(**c) for c in payload["columns"]]
        self.plan = [
            Engineered(**{**e, "inputs": tuple(e["inputs"])}) for e in payload["engineered"]
        ]
        self.reference = payload["reference"]
        self.booster = payload["booster"]
        self.platt = tuple(payload["platt"])  # type: ignore[assignment]
        self.metadata = payload["metadata"]
        if self.feature_names != list(payload["feature_names"]):
            raise AssistantError(f"模型檔內容不一致 / inconsistent model file: {path}")
        return self

    def describe(self) -> dict[str, Any]:
        return {
            "model_version": MODEL_VERSION,
            "target": self.target,
            "id_column": self.id_column,
            "features": self.feature_names,
            "engineered": [e.name for e in self.plan],
            **self.metadata,
        }


@dataclass
class Scored:
    id: str
    line: int
    pd: float
    reasons: list[Reason]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "line": self.line,
            "pd": self.pd,
            "reasons": [r.as_dict() for r in self.reasons],
        }


@dataclass
class ScoreResult:
    scored: list[Scored]
    errors: list[RowError]
    rows_read: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "scored": [s.as_dict() for s in self.scored],
            "bad_rows": len({e.line for e in self.errors}),
            "errors": [e.as_dict() for e in self.errors],
        }


def _category(spec: ColumnSpec, code: float) -> str:
    if math.isnan(code):
        return "（缺值 missing）"
    i = int(code)
    return spec.categories[i] if i < len(spec.categories) else "其他 other"


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.3g}"


def _check_target_values(table: RawTable, target: str) -> None:
    """Refuse a target that is not a yes/no column, naming what it holds instead."""
    t = table.header.index(target)
    odd: Counter[str] = Counter()
    for row in table.rows:
        text = row[t] if t < len(row) else ""
        try:
            parse_target(text)
        except ValueError:
            odd[text.strip()] += 1
    if odd:
        shown = ", ".join(f"{v!r}×{c}" for v, c in odd.most_common(8))
        raise AssistantError(
            f"目標欄「{target}」須為 0/1（或 是/否、Y/N、yes/no），但含有：{shown} / "
            f"target column {target!r} must be 0/1 (or 是/否, Y/N, yes/no); it holds {shown}"
        )


# ------------------------------------------------------------------ entry points


def train(
    csv_path: str | Path,
    target: str,
    model_file: str | Path,
    id_column: str | None = None,
    seed: int = 0,
) -> TrainReport:
    """Train on ``csv_path`` and save to ``model_file`` (only once training succeeded)."""
    model = PDModel(seed=seed)
    report = model.fit_table(read_table(csv_path), target, id_column)
    report.model_file = str(model.save(model_file))
    return report


def rows_from_json(text: str) -> RawTable:
    """``--row``: one JSON object ``{column: value}`` or a list of them, as a table whose
    line numbers are the objects' positions (1-based)."""
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AssistantError(f"--row 不是有效的 JSON / --row is not valid JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, Mapping) for i in items):
        raise AssistantError(
            "--row 須為 JSON 物件或物件陣列 / --row takes a JSON object or a list of them"
        )
    header: list[str] = []
    for item in items:
        header += [str(k) for k in item if str(k) not in header]
    rows = [["" if item.get(h) is None else str(item.get(h)) for h in header] for item in items]
    return RawTable(header, rows, list(range(1, len(rows) + 1)), "", "--row")


def score_statements(path: Path, x: Any, report: Any) -> dict[str, Any]:
    """The borrower's PD from the trained model, fed the current period's statement items and
    ratios under their schema names; a clear refusal when the model wants other columns."""
    model = PDModel.load(path)
    row: dict[str, Any] = {name: item.values[0] for name, item in x.items.items() if item.values}
    row.update({r.name: r.values[0] for r in report.ratios if r.values})
    wanted = [c for c in model.raw_names if c != model.id_column]
    missing = [c for c in wanted if c not in row]
    if missing:
        raise AssistantError(
            f"違約機率模型以其他欄位訓練（缺 {'、'.join(missing[:5])}），未評分 / the PD model was "
            f"trained on columns a company's statements do not have: {', '.join(missing[:5])}"
        )
    table = RawTable(
        header=wanted,
        rows=[["" if row[c] is None else str(row[c]) for c in wanted]],
        lines=[1],
        sha256="",
        source=x.file if hasattr(x, "file") else "statements",
    )
    scored = model.score_table(table, reasons=3).scored
    if not scored:
        raise AssistantError("財報數值無法評分 / the statements' figures could not be scored")
    return {"pd": scored[0].pd, "reasons": [r.as_dict() for r in scored[0].reasons]}
