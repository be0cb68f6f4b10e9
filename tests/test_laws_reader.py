import json
import zipfile
from pathlib import Path

import pytest

from knowledge.chunking import law_chunks, split_article
from knowledge.errors import IngestError
from knowledge.laws import read_laws

LAW = {
    "LawName": "測試銀行法",
    "LawLevel": "法律",
    "LawCategory": "行政＞金融監督管理委員會＞銀行目",
    "LawModifiedDate": "20230614",
    "LawURL": "https://law.moj.gov.tw/LawClass/LawAll.aspx?pcode=X",
    "LawArticles": [
        {"ArticleType": "C", "ArticleNo": "", "ArticleContent": "第 一 章 通則"},
        {
            "ArticleType": "A",
            "ArticleNo": "第 1 條",
            "ArticleContent": "為健全銀行業務經營，特制定本法。",
        },
        {"ArticleType": "C", "ArticleNo": "", "ArticleContent": "第 一 節 存款"},
        {
            "ArticleType": "A",
            "ArticleNo": "第 12-1 條",
            "ArticleContent": "銀行辦理消費性放款，不得要求借款人提供連帶保證人。",
        },
        {"ArticleType": "C", "ArticleNo": "", "ArticleContent": "第 二 章 罰則"},
        {"ArticleType": "A", "ArticleNo": "第 129 條", "ArticleContent": "違反者處罰鍰。"},
    ],
}


def write(tmp_path: Path, data: object, name: str = "ChLaw.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_reads_articles_with_chapter_context(tmp_path: Path) -> None:
    (law,) = read_laws(write(tmp_path, {"Laws": [LAW]}))
    assert law.name == law.name_zh == "測試銀行法"
    assert law.amended == "2023-06-14"
    assert [a.article for a in law.articles] == ["1", "12-1", "129"]
    # The section stays under its chapter; a new chapter replaces both.
    assert law.articles[1].chapter == "第 一 章 通則 第 一 節 存款"
    assert law.articles[2].chapter == "第 二 章 罰則"


def test_reads_the_zip_the_ministry_publishes(tmp_path: Path) -> None:
    src = write(tmp_path, {"Laws": [LAW]})
    archive = tmp_path / "ChLaw.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(src, "ChLaw.json")
    assert read_laws(archive)[0].articles[1].article == "12-1"


def test_english_translation_keeps_the_chinese_name(tmp_path: Path) -> None:
    eng = {
        **LAW,
        "LawName": "Test Banking Act",
        "ChLawName": "測試銀行法",
        "LawArticles": [
            {
                "ArticleType": "A",
                "ArticleNo": "Article 12-1",
                "ArticleContent": "No joint guarantor.",
            }
        ],
    }
    (law,) = read_laws(write(tmp_path, {"Laws": [eng]}, "EngLaw.json"))
    assert (law.name, law.name_zh, law.lang) == ("Test Banking Act", "測試銀行法", "en")
    assert law.articles[0].article == "12-1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b'{"Foo": []}', "Laws"),
        (b'{"Laws": []}', "empty"),
        (b'{"Laws": [{"LawName": "x"}]}', "LawArticles"),
        (b'{"Laws": [{"LawName": "x", "LawArticles": [{"ArticleType": "Z"}]}]}', "malformed"),
    ],
)
def test_bad_files_get_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        read_laws(path)


def test_zip_with_two_json_files_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.json", "{}")
        zf.writestr("b.json", "{}")
    with pytest.raises(IngestError, match="exactly one JSON"):
        read_laws(archive)


def test_long_article_is_split_at_items_keeping_number_and_lead_in(tmp_path: Path) -> None:
    lead = "銀行經營之業務如左："
    items = [f"{n}、辦理第{n}種業務，並應遵守主管機關之規定事項。" for n in range(1, 40)]
    parts = split_article("\n".join([lead, *items]), max_chars=200)
    assert len(parts) > 3
    assert all(p.startswith(lead) for p in parts)
    assert all(len(p) <= 200 + len(lead) + 60 for p in parts)
    # Every item is kept, exactly once.
    joined = "\n".join(parts)
    assert all(joined.count(item) == 1 for item in items)

    law = {
        **LAW,
        "LawArticles": [
            {
                "ArticleType": "A",
                "ArticleNo": "第 3 條",
                "ArticleContent": "\n".join([lead, *items]),
            }
        ],
    }
    (parsed,) = read_laws(write(tmp_path, {"Laws": [law]}))
    chunks = law_chunks(parsed, "ChLaw.json", 200, "public")
    assert {c.article for c in chunks} == {"3"}
    assert len({c.id for c in chunks}) == len(chunks)
