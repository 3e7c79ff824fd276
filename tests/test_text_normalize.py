"""Normalisation: the shared case file (≥ 95 %) and our own cases of every kind in every language."""

from __future__ import annotations

from pathlib import Path

import pytest

from wyoming_cosyvoice.text import TextFrontend
from wyoming_cosyvoice.text.check import canon, check_normalization, read_tsv

# Our own cases: more inputs of each kind per language, written from the conventions of frontend-cases.md.
OWN_CASES = """
zh	2023年12月25日上午9:05，室温18.3℃。	二零二三年十二月二十五日上午九点零五分，室温十八点三摄氏度。
zh	2024年03月05日	二零二四年三月五日
zh	今天是2023-12-31。	今天是二零二三年十二月三十一日。
zh	今天是2023/12/31。	今天是二零二三年十二月三十一日。
zh	我的手机号是15912345678。	我的手机号是幺五九幺二三四五六七八。
zh	请拨打138-1234-5678。	请拨打幺三八幺二三四五六七八。
zh	一共花了¥2,000.05。	一共花了两千元零五分。
zh	价格是¥0.35。	价格是三角五分。
zh	价格是¥99.9。	价格是九十九元九角。
zh	价格是¥15。	价格是十五元。
zh	花了$25.99。	花了二十五点九九美元。
zh	他跑了第12圈。	他跑了第十二圈。
zh	第2名是小明。	第二名是小明。
zh	只剩3/4了。	只剩四分之三了。
zh	明天12:00开会。	明天十二点开会。
zh	会议在18:45开始。	会议在十八点四十五分开始。
zh	会议在13:05:22开始。	会议在十三点零五分二十二秒开始。
zh	下午2:30见。	下午两点三十分见。
zh	12点05分出发。	十二点零五分出发。
zh	室外温度-12℃，体感-15度。	室外温度零下十二摄氏度，体感零下十五度。
zh	今天最高气温35°C。	今天最高气温三十五摄氏度。
zh	湿度是12.5%。	湿度是百分之十二点五。
zh	电量还剩5%。	电量还剩百分之五。
zh	增长了-3%。	增长了负百分之三。
zh	速度是60km/h。	速度是六十公里每小时。
zh	今天用电12.3kWh。	今天用电十二点三千瓦时。
zh	功率是1500W。	功率是一千五百瓦。
zh	身高1.75m。	身高一点七五米。
zh	面积是120m²。	面积是一百二十平方米。
zh	比分是10:8。	比分是十比八。
zh	总共有12,345,678人。	总共有一千二百三十四万五千六百七十八人。
zh	他有2只猫和22条狗。	他有两只猫和二十二条狗。
zh	我等了2小时。	我等了两小时。
zh	还有2天。	还有两天。
zh	大约2万人。	大约两万人。
zh	现在是2点。	现在是两点。
zh	1990年出生。	一九九零年出生。
zh	3-5天送达。	三到五天送达。
zh	温度在20~25℃之间。	温度在二十到二十五摄氏度之间。
zh	人口约1.5亿。	人口约一点五亿。
zh	价格是100.5元。	价格是一百点五元。
zh	我有1000000元。	我有一百万元。
zh	编号007。	编号零零七。
zh	今天走了10086步。	今天走了一万零八十六步。
zh	一共101个。	一共一百零一个。
zh	距离1010米。	距离一千零一十米。
zh	门铃响了🔔	门铃响了
zh	灯已经打开了✅。	灯已经打开了。
zh	这是一个3.14的近似值。	这是一个三点一四的近似值。
zh	电话是010-12345678。	电话是零幺零幺二三四五六七八。
yue	而家係3點半。	而家係三點半。
yue	溫度係-2.5℃。	溫度係零下二點五攝氏度。
yue	你有2個蘋果。	你有兩個蘋果。
yue	價錢係¥1,200.50。	價錢係一千二百元五角。
yue	人口有750萬。	人口有七百五十萬。
yue	今日係2024年3月5日。	今日係二零二四年三月五日。
yue	我哋12:05見。	我哋十二點零五分見。
yue	濕度係65.5%。	濕度係百分之六十五點五。
yue	佢跑咗10.5公里。	佢跑咗十點五公里。
yue	下晝5點15分開會。	下晝五點十五分開會。
yue	我有2隻貓。	我有兩隻貓。
en	The temperature is -12.5°F.	The temperature is minus twelve point five degrees Fahrenheit.
en	It costs $1.01.	It costs one dollar and one cent.
en	It costs $0.99.	It costs ninety nine cents.
en	It costs $5.00.	It costs five dollars.
en	It costs £5.50.	It costs five pounds and fifty pence.
en	It costs €20.	It costs twenty euros.
en	It costs $2 million.	It costs two million dollars.
en	The bill was $1,234,567.89.	The bill was one million two hundred thirty four thousand five hundred sixty seven dollars and eighty nine cents.
en	Meet me at 12:00.	Meet me at twelve o'clock.
en	Meet me at 9:30 a.m. tomorrow.	Meet me at nine thirty AM tomorrow.
en	The alarm is set for 6:15 AM.	The alarm is set for six fifteen AM.
en	The alarm is set for 7:05 PM.	The alarm is set for seven o five PM.
en	Wake up at 6am.	Wake up at six AM.
en	Dinner is at 7 p.m.	Dinner is at seven PM.
en	The 21st century.	The twenty first century.
en	He came 3rd and 102nd.	He came third and one hundred second.
en	Born on 12/25/1990.	Born on December twenty fifth, nineteen ninety.
en	The date is 2023-12-31.	The date is December thirty first, twenty twenty three.
en	On June 1, 2023 it began.	On June first, twenty twenty three it began.
en	The meeting is on March 5th at 10 AM.	The meeting is on March fifth at ten AM.
en	In 2005 we moved.	In two thousand five we moved.
en	Since 1998 they have.	Since nineteen ninety eight they have.
en	The 1990s were fun.	The nineteen nineties were fun.
en	Call 800-555-1234.	Call eight zero zero, five five five, one two three four.
en	Call (555) 123-4567.	Call five five five, one two three, four five six seven.
en	It weighs 1 kg.	It weighs one kilogram.
en	It weighs 1.5 kg.	It weighs one point five kilograms.
en	Use 3/4 cup.	Use three quarters cup.
en	Use 1/2 cup.	Use one half cup.
en	The score was 3:2.	The score was three to two.
en	Brightness 50%.	Brightness fifty percent.
en	Mrs. Brown lives on Main St.	Missus Brown lives on Main Street.
en	Ms. Lee met Prof. Kim.	Miss Lee met Professor Kim.
en	Mt. Everest is 8,849 m high.	Mount Everest is eight thousand eight hundred forty nine meters high.
en	Apples, pears, etc.	Apples, pears, et cetera.
en	Fruit, e.g. apples.	Fruit, for example apples.
en	St. Louis is nice.	Saint Louis is nice.
en	The file is 2.5 GB.	The file is two point five gigabytes.
en	Wind 15 mph, pressure 1013 hPa.	Wind fifteen miles per hour, pressure one thousand thirteen hectopascals.
en	It rained 12 mm.	It rained twelve millimeters.
en	The solar panels made 5.5 kWh.	The solar panels made five point five kilowatt hours.
en	The heater uses 1500 W.	The heater uses one thousand five hundred watts.
en	Drive 100 km/h.	Drive one hundred kilometers per hour.
en	It is 98.6°F.	It is ninety eight point six degrees Fahrenheit.
en	It is -10°F.	It is minus ten degrees Fahrenheit.
en	Wait 30 min.	Wait thirty minutes.
en	Order #12345 shipped.	Order number twelve thousand three hundred forty five shipped.
en	Version 3.14 released.	Version three point one four released.
en	It is 0.5 km away.	It is zero point five kilometers away.
en	A 3-5 day trip.	A three to five day trip.
en	1,000,000 people.	One million people.
en	Visit https://github.com/home-assistant today.	Visit github dot com today.
en	Email me at john@example.com please.	Email me at john at example dot com please.
en	The washer is done 🎉🎉	The washer is done
en	Flight at 7:45 PM.	Flight at seven forty five PM.
en	You have 1 new message.	You have one new message.
en	There are 101 dalmatians.	There are one hundred one dalmatians.
ja	2023年12月25日午後3時15分	二千二十三年十二月二十五日午後三時十五分
ja	今日は12月31日です。	今日は十二月三十一日です。
ja	価格は¥1,500です。	価格は千五百円です。
ja	価格は500円です。	価格は五百円です。
ja	会費は3,000円です。	会費は三千円です。
ja	10,000,000円です。	一千万円です。
ja	気温は-5.5℃です。	気温はマイナス五点五度です。
ja	気温は-10℃です。	気温はマイナス十度です。
ja	湿度は60%です。	湿度は六十パーセントです。
ja	100%です。	百パーセントです。
ja	15:30に会いましょう。	十五時三十分に会いましょう。
ja	7:05に起きます。	七時五分に起きます。
ja	午後11時30分に寝ます。	午後十一時三十分に寝ます。
ja	5時半に帰ります。	五時半に帰ります。
ja	2.5kgです。	二点五キログラムです。
ja	比率は16:9です。	比率は十六対九です。
ja	第1回目の会議	第一回目の会議
ja	20歳です。	二十歳です。
ja	人口は1億2000万人です。	人口は一億二千万人です。
ja	今日は2024-03-05です。	今日は二千二十四年三月五日です。
ja	ペンを5本買いました。	ペンを五本買いました。
ja	ドアが開きました🚪	ドアが開きました
ja	今日は30度です。	今日は三十度です。
ja	2024年03月05日	二千二十四年三月五日
ko	2023년 12월 31일	이천이십삼년 십이월 삼십일일
ko	오후 3시 15분	오후 세시 십오분
ko	5시 45분에 만나요.	다섯시 사십오분에 만나요.
ko	15:30에 만나요.	열다섯시 삼십분에 만나요.
ko	07:05에 일어나요.	일곱시 오분에 일어나요.
ko	사과 1개	사과 한개
ko	사과 7개를 샀어요.	사과 일곱개를 샀어요.
ko	사과 11개	사과 열한개
ko	학생 21명	학생 스물한명
ko	학생 30명이 왔어요.	학생 서른명이 왔어요.
ko	고양이 2마리	고양이 두마리
ko	10월 9일은 한글날입니다.	시월 구일은 한글날입니다.
ko	6월 6일	유월 육일
ko	50,000원입니다.	오만원입니다.
ko	1,500원	천오백원
ko	₩25,000	이만오천원
ko	현재 기온은 -3.5도입니다.	현재 기온은 영하 삼 점 오도입니다.
ko	기온 25℃	기온 이십오도
ko	습도 60%	습도 육십 퍼센트
ko	010-1234-5678	공일공 일이삼사 오육칠팔
ko	2시간 걸려요.	두시간 걸려요.
ko	3개월 전	삼개월 전
ko	5분 후에	오분 후에
ko	1번째	첫번째
ko	3층	삼층
ko	20살	스무살
ko	100명	백명
ko	5km를 달렸어요.	오킬로미터를 달렸어요.
ko	12시에 점심	열두시에 점심
ko	문이 열렸습니다🚪	문이 열렸습니다
zh	会议10:30-11:30举行。	会议十点三十分到十一点三十分举行。
zh	第1-3名有奖。	第一到三名有奖。
zh	湿度45%-50%。	湿度百分之四十五到百分之五十。
zh	他上2年级了，过了2年。	他上二年级了，过了两年。
zh	花了12.50元。	花了十二点五元。
zh	体重5KG。	体重五千克。
zh	温度20ºC。	温度二十摄氏度。
zh	客服热线400-123-4567。	客服热线四零零幺二三四五六七。
yue	3點~5點	三點到五點
yue	有2萬人。	有兩萬人。
en	Open 10:30-11:30.	Open ten thirty to eleven thirty.
en	Due 03/05.	Due March fifth.
en	Call 555.123.4567.	Call five five five, one two three, four five six seven.
en	Used 3 kwh today.	Used three kilowatt hours today.
en	Feb 29, 2024 was a leap day.	February twenty ninth, twenty twenty four was a leap day.
en	It was 5th March.	It was the fifth of March.
en	It's 10:00.	It's ten o'clock.
en	It takes 2-3 hours.	It takes two to three hours.
en	The year 2000.	The year two thousand.
en	Dr Smith is here.	Doctor Smith is here.
en	We need 2x more.	We need two times more.
en	At 0:30 AM.	At twelve thirty AM.
en	Call +44 20 7946 0958.	Call plus four four, two zero, seven nine four six, zero nine five eight.
ja	10時〜12時まで営業	十時から十二時まで営業
ja	人口は1,000,000人です。	人口は百万人です。
ko	3시~5시	세시에서 다섯시
ko	2시 반에 만나요.	두시 반에 만나요.
ko	25살입니다.	스물다섯살입니다.
ko	₩1,000,000	백만원
en	Visit home-assistant.io for details.	Visit home assistant dot io for details.
en	It is 72 degrees F.	It is seventy two degrees Fahrenheit.
zh	商店营业到24:00。	商店营业到二十四点。
mixed	今天的temperature是25°C。	今天的temperature是二十五摄氏度。
mixed	我在Home Assistant里设置了7:30 AM的闹钟。	我在Home Assistant里设置了上午七点三十分的闹钟。
mixed	明天有3个meeting。	明天有三个meeting。
mixed	CPU使用率是85%。	CPU使用率是百分之八十五。
mixed	这个iPhone 15 Pro Max的价格是$999。	这个iPhone十五Pro Max的价格是九百九十九美元。
mixed	Living room的温度是21.5℃。	Living room的温度是二十一点五摄氏度。
"""


def own_cases() -> list[tuple[str, str, str]]:
    return [tuple(line.split("\t")) for line in OWN_CASES.strip().splitlines()]  # type: ignore[misc]


@pytest.fixture(scope="module")
def frontend() -> TextFrontend:
    return TextFrontend()


def report_failures(report: dict) -> str:
    failures = [case for case in report["cases"] if not case["ok"]]
    lines = [f"{report['passed']}/{report['total']} passed; failures:"]
    lines += [
        f"  [{c['lang']}] {c['input']!r}\n      got      {c['got']!r}\n      expected {c['expected']!r}"
        for c in failures
    ]
    return "\n".join(lines)


def test_shared_case_file_passes_95_percent(reference_dir: Path, frontend: TextFrontend) -> None:
    cases = read_tsv(reference_dir.parent / "frontend-cases.tsv")
    report, passed = check_normalization(cases, frontend)
    print(report_failures(report))
    assert report["total"] == len(cases) >= 60
    assert passed, report_failures(report)


def test_own_cases_of_every_kind(frontend: TextFrontend) -> None:
    cases = own_cases()
    report, _ = check_normalization(cases, frontend)
    print(report_failures(report))
    assert report["passed"] == report["total"], report_failures(report)


@pytest.mark.parametrize(
    ("produced", "expected"),
    [
        ("twenty-one", "twenty one"),
        ("Ｈｅｌｌｏ，世界", "hello世界"),
        ("三 点", "三点"),
        ("a  b\tc", "a b c"),
        ("  x  ", "x"),
        ("今天、明天", "今天明天"),
        ("1-2", "1-2"),
        ("세시 삼십분", "세시삼십분"),
    ],
)
def test_canon_rule(produced: str, expected: str) -> None:
    assert canon(produced) == expected


@pytest.mark.parametrize("language", ["zh", "en", "ja", "ko", "yue"])
@pytest.mark.parametrize("text", ["", "   ", "🎉🎉🎉", "<|endoftext|>", "\x00\x07"])
def test_unspeakable_text_normalises_to_nothing(frontend: TextFrontend, text: str, language: str) -> None:
    assert frontend.normalize(text, language) == ""
    assert frontend.segments(text, language) == []


def test_control_markers_are_removed_not_spoken(frontend: TextFrontend) -> None:
    assert frontend.normalize("Hello <|endoftext|> world <|en|>", "en") == "Hello world"


def test_full_width_digits_and_letters_are_read(frontend: TextFrontend) -> None:
    assert canon(frontend.normalize("电量１５％", "zh")) == canon("电量百分之十五")
    assert canon(frontend.normalize("１２：３０に会議", "ja")) == canon("十二時三十分に会議")


def test_unknown_language_is_a_clear_error(frontend: TextFrontend) -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        frontend.normalize("bonjour", "fr")


def test_non_string_text_is_a_clear_error(frontend: TextFrontend) -> None:
    with pytest.raises(TypeError, match="must be a string"):
        frontend.normalize(42, "en")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "unit",
    ["1-", "+1-", "1.", "111,", "9", "9:", "9/", "a ", "St St. ", "a.b-c_", "x@y.", "5 km ", "中a ", "1st ", "第1", "%-"],
)
def test_adversarial_input_is_handled_without_error(frontend: TextFrontend, unit: str) -> None:
    """Long repetitive input: every pattern is linear (a quadratic one would take minutes here)."""
    text = unit * (40_000 // len(unit))
    for language in ("en", "zh"):
        assert isinstance(frontend.normalize(text, language), str)


def test_huge_numbers_are_read_digit_by_digit(frontend: TextFrontend) -> None:
    assert frontend.normalize("12345678901234567890123", "en").startswith("one two three four")
    assert frontend.normalize("12345678901234567890123", "zh").startswith("幺二三四")
