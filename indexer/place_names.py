"""Country and region names in other languages (CLDR's, through Babel), and how each language writes them in text."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

# indexer.geography reads these names only when it is told an article's or a query's language; English names are
# read in every language. Lists are "|"-separated and written as people write them (matching ignores case, accents
# and the apostrophe's shape). A name, phrase or table below that CLDR does not give is here for a reason noted
# beside it; counts quoted are from MasakhaNEWS (BBC Afrique, Swahili, Hausa and Amharic articles,
# ../shared/data/masakhanews).


@dataclass(frozen=True)
class Language:
    """How one language names places and writes the words around them."""

    locales: tuple[str, ...]  # Babel locales whose territory names are read, the language's own first
    prepositions: str  # before a place in a query, cut with it ("en Afrique"); ending in "'": written on ("d'")
    conjunctions: str  # places joined by them are cut as one phrase ("Kenya et Ouganda")
    articles: str = ""  # between the preposition and the place ("en la", "l'")
    prefixes: str = ""  # a regex of words written onto a name ("بأفريقيا", "በኢትዮጵያ"), cut with the place
    suffixes: str = ""  # a regex of endings written onto a name ("ኢትዮጵያን")
    inflect: Callable[[str], set[str]] | None = None  # a name's other forms in running text (Russian cases)
    extra: dict[str, str] = field(default_factory=dict)  # ISO3 or canonical region -> names CLDR lacks
    adjectives: dict[str, str] = field(default_factory=dict)  # the same, written in lowercase ("africaine")
    not_places: str = ""  # phrases holding a name that are not that place ("golfe de Guinée")
    words: str = ""  # names that are mostly something else in this language: never read
    people: str = ""  # first names: not the place when a capitalised word follows ("Maurice Kamto")
    capitalised: str = ""  # read in a query only with a capital, like names of 3 letters or fewer
    ambiguous: dict[str, str] = field(default_factory=dict)  # name -> its ISO3 codes: none in articles, all in queries


def _german(name: str) -> set[str]:
    """The genitive ("Afrikas", "Kenias Regierung")."""
    return set() if name.endswith(("s", "ß", "x", "z")) else {name + "s"}


_RU_NOUN = (  # ending -> its case endings ("Кения" -> "Кении", "Кению", "Кенией")
    ("ия", "ия ии ию ией иею"), ("а", "а ы и е у ой ою"), ("я", "я и е ю ей ею"), ("ь", "ь я ю ем е и"),
    ("й", "й я ю ем е"), ("ы", "ы ах ам ами ов"),
)
_RU_ADJECTIVE = (  # "Южный Судан" -> "Южном Судане", "Западная Африка" -> "Западной Африке"
    ("ая", "ая ой ую ою"), ("ый", "ый ого ому ым ом"), ("ий", "ий ого его ому ему им ем"),
    ("ой", "ой ого ому ым ом"), ("ое", "ое ого ому ым ом"), ("ые", "ые ых ым ыми"), ("ие", "ие их им ими"),
)
_RU_CONSONANT = re.compile(r"[бвгджзклмнпрстфхцчшщ]$")


def _russian(name: str) -> set[str]:
    """Russian declines names: "в Кении", "из Африки", "в Южном Судане". Each word's case forms by its ending;
    names ending in -о, -е, -и, -у ("Того", "Мали", "Перу") do not decline. Forms of a name's hyphenated first
    part ("в Гвинее-Бисау") and of nouns before the last word ("Республике Корея") are not made."""
    def forms(word: str, table: tuple[tuple[str, str], ...], last: bool) -> list[str]:
        for ending, endings in table:
            if word.endswith(ending):
                return [word[: -len(ending)] + e for e in endings.split()]
        return [word, *(word + e for e in ("а", "у", "ом", "е"))] if last and _RU_CONSONANT.search(word) else [word]

    words = name.split(" ")
    options = [forms(w, _RU_ADJECTIVE, False) for w in words[:-1]] + [forms(words[-1], _RU_NOUN, True)]
    return {" ".join(p) for p in itertools.product(*options)} - {name}


def _arabic(name: str) -> set[str]:
    """ل ("for") before a name that starts with the article ال drops the article's alef: ل + السودان = للسودان, read
    as the prefix ل and this form."""
    return {name[1:]} if name.startswith("ال") else set()


LANGUAGES: dict[str, Language] = {
    "fr": Language(
        ("fr",),
        prepositions="en|dans|de|du|des|d'|à|au|aux|pour|vers|sur|depuis|par|via|à travers|partout en",
        conjunctions="et|ou", articles="la|le|les|l'",
        extra={
            "Middle East": "Moyen-Orient", "Horn of Africa": "Corne de l'Afrique",
            "Western Africa": "Afrique de l'Ouest", "Eastern Africa": "Afrique de l'Est",
            "Northern Africa": "Afrique du Nord", "Great Lakes": "Grands Lacs", "Sub-Saharan Africa": "Afrique sub-saharienne",
            "GBR": "Angleterre|Écosse|pays de Galles|Irlande du Nord|Grande-Bretagne",
        },
        adjectives={"Africa": "africain|africaine|africains|africaines"},  # 374 times in MasakhaNEWS fr
        not_places="golfe de Guinée|ver de Guinée|cochon d'Inde|Nouveau-Mexique|delta du Niger|fleuve Niger",
        # "réunion" is a meeting (49 times in MasakhaNEWS fr, never the island); Grenade is also Granada in Spain
        words="La Réunion|Réunion|Grenade",
        # MasakhaNEWS fr: "Maurice" 9 times, 4 of them people ("Maurice Kamto", "Maurice Wilkins"), the others
        # Mauritius ("à Maurice", "l'île Maurice"); Dominique, Dominica, is a first name as well
        people="Maurice|Dominique",
    ),
    "es": Language(
        ("es",),
        prepositions="en|de|del|desde|para|a|al|hacia|por|entre", conjunctions="y|e|o|u", articles="el|la|los|las",
        extra={
            "Middle East": "Oriente Medio|Medio Oriente|Oriente Próximo", "Horn of Africa": "Cuerno de África",
            "Northern Africa": "Norte de África|África del Norte", "Western Africa": "África del Oeste",
            "Eastern Africa": "África del Este", "Latin America": "América Latina", "Great Lakes": "Grandes Lagos",
            "GBR": "Inglaterra|Escocia|Gales|Irlanda del Norte|Gran Bretaña", "USA": "EE. UU.|EE.UU.|EEUU",
        },
        adjectives={"Africa": "africano|africana|africanos|africanas"},
        not_places="golfo de Guinea|gusano de Guinea|Nuevo México|delta del Níger|río Níger",
        # a meeting; the Spanish city; a first name, Mexican towns and the Virgin of Guadalupe; a saint and towns
        words="Reunión|Granada|Guadalupe|San Martín",
        people="Mauricio",
    ),
    "pt": Language(
        ("pt", "pt_PT"),  # Brazil's and Portugal's names ("Quênia", "Quénia"; "Irã", "Irão")
        prepositions="em|no|na|nos|nas|de|do|da|dos|das|para|a|ao|à|aos|às|desde|por|pelo|pela",
        conjunctions="e|ou", articles="o|a|os|as",
        extra={
            "Middle East": "Oriente Médio|Médio Oriente",
            "Horn of Africa": "Chifre da África|Corno de África|Corno da África",
            "Northern Africa": "Norte da África|África do Norte", "Great Lakes": "Grandes Lagos",
            "GBR": "Inglaterra|Escócia|País de Gales|Irlanda do Norte|Grã-Bretanha", "USA": "EUA",
        },
        adjectives={"Africa": "africano|africana|africanos|africanas"},
        not_places="golfo da Guiné|verme-da-guiné|Novo México|delta do Níger|rio Níger",
        # a meeting; the Spanish city; a first name and towns; St Martin's day and towns
        words="Reunião|Granada|Guadalupe|São Martinho",
        people="Maurício",
    ),
    "ar": Language(
        ("ar",),
        prepositions="في|من|إلى|الى|عبر|داخل|حول|على|عن|نحو", conjunctions="أو|او",
        prefixes="(?:[وف]?[بلك]|[وف])",  # و "and", ف "so", ب "in", ل "for", ك "as": "بأفريقيا", "وكينيا"
        inflect=_arabic,
        extra={
            "Middle East": "الشرق الأوسط", "Horn of Africa": "القرن الأفريقي", "Sahel": "منطقة الساحل|الساحل الأفريقي",
            "MENA": "الشرق الأوسط وشمال أفريقيا", "Sub-Saharan Africa": "أفريقيا جنوب الصحراء",
            "OMN": "سلطنة عمان",  # "the Sultanate of Oman": عمان alone is also Amman
            "GBR": "بريطانيا|إنجلترا|إنكلترا|اسكتلندا|ويلز|أيرلندا الشمالية", "USA": "أمريكا",
            "Africa": "أفريقي|أفريقية|الأفريقي|الأفريقية|أفارقة|الأفارقة",  # African
        },
        not_places="خليج غينيا|دلتا النيجر|نهر النيجر|بروسيا",  # ... and Prussia, not ب + روسيا
        # "financial", "my money" (مالي); "boys", "sons" (بنين); Oman and Amman, Jordan's capital (عمان)
        words="مالي|بنين|عمان",
    ),
    "sw": Language(
        ("sw",),
        prepositions="katika|kwa|ya|wa|za|la|cha|vya|kutoka|nchini|hadi|kwenda", conjunctions="na|au",
        extra={
            # "Afrika Mashariki" 73 times in MasakhaNEWS sw, CLDR's "Afrika ya Mashariki" once
            "Middle East": "Mashariki ya Kati", "Eastern Africa": "Afrika Mashariki", "Western Africa": "Afrika Magharibi",
            "Northern Africa": "Afrika Kaskazini", "Horn of Africa": "Pembe ya Afrika", "Great Lakes": "Maziwa Makuu",
            "Africa": "Kiafrika|Mwafrika|Waafrika",  # African, an African, Africans
            "GBR": "Uingereza",  # 366 times in MasakhaNEWS sw; CLDR: "Ufalme wa Muungano"
            "SSD": "Sudani Kusini",  # CLDR writes Sudan "Sudani" and South Sudan "Sudan Kusini"
            "COD": "Jamhuri ya Kidemokrasia ya Kongo|Jamhuri ya Kidemokrasia ya Congo",  # CLDR: "Kongo - Kinshasa"
        },
        capitalised="Mali",  # also "property", "wealth": 50 times in lowercase in MasakhaNEWS sw
        ambiguous={"Kongo": "COD|COG"},  # as "Congo" in English
    ),
    "de": Language(
        ("de",),
        prepositions="in|im|aus|nach|für|von|vom|über|bei|auf|durch|zu|zum|zur", conjunctions="und|oder",
        articles="der|die|das|dem|den|des", inflect=_german,
        extra={
            "Middle East": "Naher Osten|Nahen Osten|Nahost|Mittlerer Osten|Mittleren Osten",
            "Horn of Africa": "Horn von Afrika", "Sub-Saharan Africa": "Afrika südlich der Sahara",
            "GBR": "England|Schottland|Wales|Nordirland|Großbritannien", "USA": "Vereinigten Staaten",
        },
        adjectives={"Africa": "afrikanisch|afrikanische|afrikanischen|afrikanischer|afrikanisches|afrikanischem"},
        not_places="Golf von Guinea",
    ),
    "it": Language(
        ("it",),
        prepositions="in|nel|nella|nei|nelle|di|del|della|dei|delle|da|dal|dalla|per|a|al|alla|verso|tra|fra",
        conjunctions="e|ed|o", articles="il|lo|la|i|gli|le|l'",
        extra={
            "Middle East": "Medio Oriente|Vicino Oriente", "Horn of Africa": "Corno d'Africa",
            "Northern Africa": "Nord Africa|Africa del Nord", "Western Africa": "Africa dell'Ovest",
            "Eastern Africa": "Africa dell'Est", "Great Lakes": "Grandi Laghi",
            "GBR": "Inghilterra|Scozia|Galles|Irlanda del Nord|Gran Bretagna",
        },
        adjectives={"Africa": "africano|africana|africani|africane"},
        not_places="golfo di Guinea|Nuovo Messico|delta del Niger",
        words="Riunione",  # a meeting
    ),
    "nl": Language(
        ("nl",),
        prepositions="in|uit|naar|voor|van|over|bij|door|op|tussen", conjunctions="en|of", articles="de|het|'t",
        extra={
            "Middle East": "Midden-Oosten", "Horn of Africa": "Hoorn van Afrika",
            "Sub-Saharan Africa": "Afrika ten zuiden van de Sahara", "Africa": "Afrikaanse",  # African
            "GBR": "Engeland|Schotland|Wales|Noord-Ierland|Groot-Brittannië",
        },
        not_places="Golf van Guinee",
    ),
    "ha": Language(
        ("ha",),
        prepositions="a|daga|zuwa|cikin|na|ta|kasar|ƙasar", conjunctions="da|ko",
        # "ya gana da" is "he met with": "gana" 21 times in lowercase in MasakhaNEWS ha, "Gana" twice, both people
        # ("Baba Gana Kingibe"); BBC Hausa writes Ghana "Ghana" (39 times)
        words="Gana",
        # the press spellings, as MasakhaNEWS ha writes them against CLDR's: "Najeriya" 1,571 times ("Nijeriya" 12),
        # "Masar" 43 ("Misira" never), "Chadi" 6 ("Cadi" never), "Birtaniya" 188 and "Burtaniya" 55 ("Biritaniya"
        # 1); "Ingila", England, 143, as English "England"
        extra={"NGA": "Najeriya", "EGY": "Masar", "TCD": "Chadi", "GBR": "Ingila|Birtaniya|Burtaniya"},
        ambiguous={"Kongo": "COD|COG"},  # as "Congo" in English
    ),
    "am": Language(
        ("am",),
        prepositions="", conjunctions="እና|ወይም",
        # of, in, from, for, to, like, about; then accusative, and, also, the, and the demonyms (-ውያን "Ethiopians")
        prefixes="(?:የ|በ|ከ|ለ|ወደ|እንደ|ስለ)", suffixes="(?:ን|ና|ም|ው|ውያን|ዊ|ዊያን|ዊው|ዊቷ|ውያኑ)",
        # the press spellings: MasakhaNEWS am writes "አሜሪካ" (CLDR: the Americas) for the US 160 times, "ሩሲያ" 156
        # times against CLDR's "ሩስያ" 10, and "እንግሊዝ" (England) 138 times against CLDR's "ዩናይትድ ኪንግደም" 80
        extra={"USA": "አሜሪካ", "RUS": "ሩሲያ", "GBR": "እንግሊዝ"},
    ),
    "ru": Language(
        ("ru",),
        prepositions="в|во|на|из|по|для|от|к|о|об|у|через|из-за", conjunctions="и|или", inflect=_russian,
        extra={
            "Middle East": "Ближний Восток", "USA": "США",
            "GBR": "Англия|Шотландия|Уэльс|Северная Ирландия",
        },
        words="Того",  # "of that", a pronoun
    ),
}
# Not here: Chinese is written without spaces, and a name is read inside other words without a segmenter ("增加纳税"
# "more taxpayers" holds 加纳, Ghana); a language outside this table reads English names only.
PLACE_LANGUAGES: tuple[str, ...] = tuple(LANGUAGES)

# CLDR codes that are no place to tag: the European Union, the eurozone and the UN. Their names are matched and
# dropped ("Umoja wa Ulaya", the EU in Swahili, holds Ulaya, Europe), as English "European Union" is.
NOT_PLACE_CODES = frozenset({"EU", "EZ", "UN"})


def language_code(language: str | None) -> str | None:
    """The PLACE_LANGUAGES entry for an ISO 639-1 code or a locale ("fr", "FR", "pt-BR", "zh_Hans"); None for
    English, for no language and for a language without names here."""
    if not language:
        return None
    code = re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower()
    return code if code in LANGUAGES else None


@functools.cache
def cldr_names(language: str) -> tuple[tuple[str, str, bool], ...]:
    """(name, CLDR territory code, whole) for a PLACE_LANGUAGES code: ISO 3166 alpha-2 codes for countries and
    territories, UN M49 codes for regions, and NOT_PLACE_CODES. A name CLDR writes "A (B)" or "A, B" also gives
    A ("Гонконг (САР)", "Hong Kong, RAE da China"), and B where CLDR's English name has two parts as well
    ("Myanmar (Birmanie)": English "Myanmar (Burma)"); elsewhere B says whose it is ("Visiwa vya Virgin, Uingereza",
    the British Virgin Islands; "(partie néerlandaise)"). Parts are flagged whole=False: the tagger reads a part
    only where no whole name uses it."""
    from babel import Locale

    english = english_names()
    found: dict[tuple[str, str], bool] = {}
    for locale in LANGUAGES[language].locales:
        for code, name in Locale.parse(locale).territories.items():
            if not (code.isdigit() or (len(code) == 2 and code.isalpha())):
                continue
            found[(name, code)] = True
            first, *others = [part for part in _PARTS.split(name) if part]
            if not others:
                continue
            for part in [first, *(others if _PARTS.search(english.get(code, "")) else [])]:
                if part[:1].isupper() and not part.isupper():  # not "(САР)", an abbreviation
                    found.setdefault((part, code), False)
    return tuple((name, code, whole) for (name, code), whole in found.items())


_PARTS = re.compile(r"\s*[(),]\s*")


@functools.cache
def english_names() -> dict[str, str]:
    """CLDR's English name of each territory code: how a UN M49 region code is matched to a region of the tagger."""
    from babel import Locale

    return dict(Locale.parse("en").territories)
