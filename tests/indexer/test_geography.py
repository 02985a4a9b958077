from importlib.metadata import version

import pytest

from indexer.geography import (
    UnknownRegion,
    canonical_region,
    country_code,
    country_name,
    known_regions,
    parse_query_places,
    region_members,
    suggest_region,
    tag_places,
    tagger_params,
)
from indexer.place_names import PLACE_LANGUAGES


@pytest.mark.parametrize(
    ("body", "countries"),
    [
        ("Cocoa farmers in Côte d'Ivoire and Ghana.", ("CIV", "GHA")),
        ("Cocoa farmers in Cote d\u2019Ivoire.", ("CIV",)),
        ("Cocoa farmers in the Ivory Coast.", ("CIV",)),
        ("Clinics in DR Congo and the DRC reopened.", ("COD",)),
        ("The Democratic Republic of the Congo and the Republic of the Congo signed.", ("COD", "COG")),
        ("Democratic Republic of Congo, Congo-Brazzaville.", ("COD", "COG")),
        ("Congo is ambiguous; Congolese too.", ()),  # AP style means the DRC, UN M49 the Republic of the Congo
        ("Türkiye, formerly Turkey.", ("TUR",)),
        ("Donors in the UK and the USA, and the United States.", ("USA", "GBR")),
        ("The U.S. and U.K. pledged; Britain too.", ("GBR", "USA")),
        ("Let us help. Us too.", ()),  # the pronoun, whatever its case
        ("Nigerian, Kenyan, Ghanaian and Bangladeshi farmers.", ("NGA", "KEN", "GHA", "BGD")),
        ("Kenyans and Ugandans voted.", ("KEN", "UGA")),
        ("Refugees from Niger reached Nigeria.", ("NER", "NGA")),
        ("Nigerien herders.", ("NER",)),
        ("Guinea-Bissau, Papua New Guinea, Equatorial Guinea and Guinea met.", ("GNB", "PNG", "GNQ", "GIN")),
        ("Guinea Bissau held elections.", ("GNB",)),
        ("The Gulf of Guinea and Guinea worm.", ()),
        ("South Sudan and Sudan; South Sudanese returnees.", ("SSD", "SDN")),
        ("Chad Smith said the plan works.", ()),
        ("Refugees from Sudan arrived in Chad. Chad's government agreed.", ("TCD", "SDN")),
        ("Jordan Peterson visited the Jordan River.", ()),
        ("Refugees in Jordan and Lebanon.", ("JOR", "LBN")),
        ("Georgia Hughes reported from Georgia.", ("GEO",)),
        ("We ate turkey; a guinea pig; chad is paper.", ()),  # lowercase words are not places
        ("FLOODS IN KENYA, cholera in kenya.", ("KEN",)),
        ("Funding from the European Union for the Indian Ocean islands.", ()),
        ("Gaza and the West Bank.", ("PSE",)),
        ("Schools in St Lucia, Saint Lucia and São Tomé and Príncipe.", ("LCA", "STP")),
        ("Floods in New Mexico and New South Wales.", ()),
        ("Uganda hosts refugees from Kenya. Uganda's camps are full in Uganda.", ("UGA", "KEN")),
    ],
)
def test_article_countries(body, countries):
    assert tag_places("", body).countries == countries


@pytest.mark.parametrize(
    ("title", "body", "countries", "regions"),
    [
        (
            "Drought in Kenya",
            "Rains failed.",
            ("KEN",),
            ("Africa", "Eastern Africa", "Sub-Saharan Africa", "Great Lakes", "Eastern and Southern Africa"),
        ),
        # a person rule needs sentence case, so a Title Case headline is read as the country
        ("Floods Hit Chad After Rains", "Rain fell.", ("TCD",),
         ("Africa", "Middle Africa", "Sub-Saharan Africa", "Sahel", "West and Central Africa")),
        # a mentioned region brings every region containing it, not its countries
        ("", "Herders across the Sahel.", (), ("Africa", "Sub-Saharan Africa", "Sahel", "West and Central Africa")),
        ("", "Across sub-Saharan Africa, and in the Asia-Pacific.", (), ("Africa", "Sub-Saharan Africa")),
        ("", "Latin American and Middle Eastern donors.", (),
         ("Americas", "Middle East", "MENA", "Latin America")),
        ("", "Across the Horn of Africa.", (),
         ("Africa", "Eastern Africa", "Sub-Saharan Africa", "Horn of Africa", "Eastern and Southern Africa")),
    ],
)
def test_article_regions(title, body, countries, regions):
    places = tag_places(title, body)
    assert (places.countries, places.regions) == (countries, regions)


def test_declared_countries_come_first_and_unknown_names_are_reported():
    places = tag_places(
        "Cocoa prices",
        "Buyers in Ghana and Ghana's ports, and in Togo.",
        declared=["Côte d'Ivoire", "Ghana", "Viet Nam", "KEN", "Atlantis", "West Africa", "Congo"],
    )
    assert places.countries == ("CIV", "GHA", "VNM", "KEN", "TGO")
    assert places.country_names == ("Côte d'Ivoire", "Ghana", "Vietnam", "Kenya", "Togo")
    assert places.unknown == ("Atlantis", "Congo")
    assert "Western Africa" in places.regions and "South-eastern Asia" in places.regions


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("Côte d'Ivoire", "CIV"), ("cote d'ivoire", "CIV"), ("KEN", "KEN"), ("KE", "KEN"), ("UK", "GBR"),
        ("Iran (Islamic Republic of)", "IRN"), ("Tanzania, United Republic of", "TZA"), ("Bolivia", "BOL"),
        ("Kenyan", "KEN"), ("NA", None), ("Southern Africa", None), ("Congo", None), ("", None), ("Atlantis", None),
    ],
)
def test_country_code(name, iso3):
    assert country_code(name) == iso3


@pytest.mark.parametrize(
    ("query", "countries", "regions", "residual"),
    [
        ("child trafficking funding in Africa", (), ("Africa",), "child trafficking funding"),
        ("in Africa", (), ("Africa",), ""),
        ("East Africa drought", (), ("Eastern Africa",), "drought"),
        ("Sahel", (), ("Sahel",), ""),
        ("women in the Sahel region", (), ("Sahel",), "women"),
        ("Bangladesh", ("BGD",), (), ""),
        ("cholera in the Horn of Africa", (), ("Horn of Africa",), "cholera"),
        ("migration across Latin America", (), ("Latin America",), "migration"),
        ("Latin American migrants", (), ("Latin America",), "migrants"),
        ("grants for teachers in Kenya and Uganda", ("KEN", "UGA"), (), "grants for teachers"),
        ("Kenya, Uganda and Tanzania", ("KEN", "UGA", "TZA"), (), ""),
        ("kenya", ("KEN",), (), ""),
        ("ivory coast cocoa", ("CIV",), (), "cocoa"),
        ("refugees from South Sudan", ("SSD",), (), "refugees"),
        ("turkey earthquake", ("TUR",), (), "earthquake"),  # a query may be all lowercase
        ("congo", ("COD", "COG"), (), ""),  # ambiguous: both
        ("Kenyan farmers", ("KEN",), (), "farmers"),
        ("education in Kenya for girls", ("KEN",), (), "education for girls"),
        ("scholarships for Kenyan students", ("KEN",), (), "scholarships for students"),
        ("funding for Kenya drought relief", ("KEN",), (), "funding for drought relief"),
        ("floods in Pakistan 2022", ("PAK",), (), "floods 2022"),
        ("us grants", (), (), "us grants"),  # the pronoun
        ("indian ocean tuna", (), (), "indian ocean tuna"),
        ("grants for teachers", (), (), "grants for teachers"),
    ],
)
def test_parse_query_places(query, countries, regions, residual):
    parsed = parse_query_places(query)
    assert (parsed.countries, parsed.regions, parsed.residual) == (countries, regions, residual)


def test_query_spans_and_country_set():
    parsed = parse_query_places("grants in Kenya and East Africa")
    assert parsed.spans == ((10, 15), (20, 31))
    assert parsed.country_set == region_members("Eastern Africa")  # Kenya is one of them
    assert parse_query_places("grants for teachers").country_set == frozenset()
    assert parse_query_places("Sahel").country_set == frozenset(
        {"BFA", "CMR", "TCD", "GMB", "GIN", "MLI", "MRT", "NER", "NGA", "SEN"}
    )


@pytest.mark.parametrize(
    ("title", "body", "countries"),
    [
        ("", "Cholera cases rose in Goma and around Bukavu.", ("COD",)),  # cities of a country the text never names
        ("Floods in Dhaka", "", ("BGD",)),
        ("", "NAIROBI, 3 May 2024 \u2013 Rains flooded the city.", ("KEN",)),  # the dateline
        ("", "Officials in Kano State said; camps in Cox\u2019s Bazar and Port-au-Prince.", ("NGA", "BGD", "HTI")),
        ("", "Smog in Mexico City and in Kuwait City.", ("MEX", "KWT")),
        ("", "Goma said the road is open. The Nairobi office, goma.", ()),  # no place preposition; lowercase
        ("", "He passed to Henderson; Victoria Beckham arrived in Reading from Nice.", ()),  # people, words
        ("", "Under the Paris Agreement, in Paris Saint-Germain's city.", ()),  # a treaty and a club
        ("", "The port of Valencia.", ()),  # Spain's 0.8M and Venezuela's 1.6M: too close to tell
        ("", "The summit in Tripoli.", ("LBY",)),  # Libya's 1.3M outnumber Lebanon's 0.2M
        ("", "Clinics in Goma, Beni and Bukavu; and Kigali.", ("COD",)),  # a list after a preposition, not beyond
        ("", "Jurors in Virginia recommended a sentence.", ("USA",)),  # the US state, not the South African town
        ("", "Attacks in Borno State and in Cabo Delgado; camps in Upper Nile, Jonglei and Unity.", ("NGA", "MOZ", "SSD")),
        ("", "Floods across Sindh, and Rakhine's camps.", ("PAK",)),  # no preposition before Rakhine's
        ("", "Aid reached families in Tigray, Amhara and North Kivu, and in Darfur.", ("ETH", "COD", "SDN")),
        ("", "Bishops at Canterbury; a draw in Pool A; the north of the country.", ()),  # a see, a pool, a word
        ("", "Fans in London, Manchester and Athens.", ("GBR", "GRC")),  # coco's ISO2 cells "^GB$|^UK$", "^GR$|^EL$"
        ("", "A storm in Kent and at Westminster.", ()),  # English places GeoNames has as American cities: neither
        ("", "Refugees from Aleppo reached Gaziantep in Turkey.", ("SYR", "TUR")),
        # GeoNames' alternate spellings of cities of 250,000+ ("Ar Raqqah", "Sanaa", "Kyiv", "Mek'ele")
        ("", "Camps near Raqqa; flights from Sana'a; talks in Kiev; clinics in Mekelle.", ("SYR", "YEM", "UKR", "ETH")),
        ("", "Floods in Mila and at Southampton.", ("DZA", "GBR")),  # towns' own names, not Milan's or Hampton's spellings
        ("", "Offices in Tarabulus and Bombay.", ()),  # spellings unlike the city's GeoNames name are not read
        ("", "Letters from Sophia to Judah; life in Soul.", ()),  # Sofia's, Jeddah's, Seoul's spellings: names, a word
        ("", "The activation of SUMO ligase; binding of YAP in flies.", ()),  # acronyms, not Sumy and Yap
        ("GOMA, 3 May", "GOMA, 3 May - Shelling resumed.", ("COD",)),  # a dateline in capitals still counts
        # a city before "protocol", "convention", "fragments"… names a treaty or a term, written in lowercase too
        ("", "Signatories of Kampala convention; the termination of Okazaki fragments.", ()),
        ("", "States parties to the Maputo protocol met in Maputo.", ("MOZ",)),
    ],
)
def test_article_cities_name_their_country(title, body, countries):
    assert set(tag_places(title, body).countries) == set(countries)


def test_cities_count_as_mentions_and_regions_follow():
    places = tag_places("Aid reaches Goma", "Trucks from Kigali crossed; in Goma and in Bukavu, clinics reopened.")
    assert places.countries == ("COD", "RWA")  # DR Congo named twice (not "reaches Goma": no preposition), Rwanda once
    assert "Great Lakes" in places.regions and "Middle Africa" in places.regions


@pytest.mark.parametrize(
    ("query", "countries", "residual"),
    [
        ("cholera in Goma", ("COD",), "cholera in Goma"),  # the city stays in the query
        ("shelling in Kiev", ("UKR",), "shelling in Kiev"),  # an alternate spelling (GeoNames: Kyiv) …
        ("shelling in kiev", (), "shelling in kiev"),  # … read only with its capital
        ("floods in dhaka", ("BGD",), "floods in dhaka"),  # lowercase: a city of 1M+ after a place preposition
        ("Nairobi schools", ("KEN",), "Nairobi schools"),
        ("nairobi schools", (), "nairobi schools"),
        ("progress in reading", (), "progress in reading"),
        ("paris agreement", (), "paris agreement"),
        ("Paris Agreement targets", (), "Paris Agreement targets"),
        ("Mexico City air", ("MEX",), "Mexico City air"),  # not "City air"
        ("schools in Kenya and Uganda", ("KEN", "UGA"), "schools"),
        ("Lagos floods in Ghana", ("NGA", "GHA"), "Lagos floods"),
        # a city's name in capitals among other words is an acronym (SciFact claims: the protein YAP, not Yap State's
        # town; SUMO, not Sumy); a query all in capitals is read as written
        ("sequestration of YAP in Drosophila", (), "sequestration of YAP in Drosophila"),
        ("activation of SUMO E3 ligase", (), "activation of SUMO E3 ligase"),
        ("CHOLERA IN GOMA", ("COD",), "CHOLERA IN GOMA"),
        # treaties, processes and terms named after a city (SciFact: "termination zones of Okazaki fragments")
        ("termination zones of Okazaki fragments", (), "termination zones of Okazaki fragments"),
        ("Maputo protocol women's rights", (), "Maputo protocol women's rights"),
        ("Sendai framework funding", (), "Sendai framework funding"),
        ("Stockholm syndrome", (), "Stockholm syndrome"),
        ("Kampala convention in Uganda", ("UGA",), "Kampala convention"),  # the country named outright still counts
        ("floods in Sendai", ("JPN",), "floods in Sendai"),
    ],
)
def test_query_cities(query, countries, residual):
    parsed = parse_query_places(query)
    assert (parsed.countries, parsed.residual) == (countries, residual)
    assert parsed.country_set >= set(countries)


def test_query_city_spans_keep_the_speller_off_them():
    parsed = parse_query_places("cholera in Goma and Kenya")
    assert parsed.spans == ((11, 15), (20, 25))


@pytest.mark.parametrize(
    ("iso3", "region"),
    [
        ("GHA", "Western Africa"), ("GHA", "West Africa"), ("GHA", "Africa"), ("GHA", "Sub-Saharan Africa"),
        ("KEN", "Eastern Africa"), ("KEN", "East Africa"), ("KEN", "Great Lakes"), ("KEN", "sub-saharan africa"),
        ("MLI", "Sahel"), ("BGD", "Southern Asia"), ("BGD", "South Asia"), ("BGD", "Asia"),
        ("SDN", "Sub-Saharan Africa"), ("SDN", "Northern Africa"), ("SDN", "MENA"), ("ETH", "Horn of Africa"),
        ("BRA", "Latin America"), ("HTI", "Latin America"), ("MEX", "Central America"), ("MEX", "Americas"),
        ("VNM", "Southeast Asia"), ("UZB", "Central Asia"), ("FJI", "Pacific"), ("COD", "Great Lakes"),
        ("EGY", "Middle East"), ("TUR", "Middle East"), ("MAR", "MENA"),
    ],
)
def test_region_contains(iso3, region):
    assert iso3 in region_members(region)


@pytest.mark.parametrize(
    ("iso3", "region"),
    [
        ("EGY", "Sub-Saharan Africa"), ("KEN", "Horn of Africa"), ("IRN", "South Asia"), ("SDN", "Sahel"),
        ("AUS", "Pacific Islands"), ("ETH", "Great Lakes"), ("CYP", "Middle East"), ("USA", "Latin America"),
    ],
)
def test_region_excludes(iso3, region):
    assert iso3 not in region_members(region)


@pytest.mark.parametrize(
    ("inner", "outer"),
    [
        ("Latin America", "Americas"), ("South America", "Americas"), ("Pacific Islands", "Oceania"),
        ("Australia and New Zealand", "Oceania"), ("Sub-Saharan Africa", "Africa"), ("South Asia", "Asia"),
        ("Sahel", "Sub-Saharan Africa"), ("Horn of Africa", "Eastern Africa"), ("Middle East", "MENA"),
    ],
)
def test_regions_nest(inner, outer):
    assert region_members(inner) < region_members(outer)


def test_every_group_member_is_a_known_country():
    for region in known_regions():
        for iso3 in region_members(region):
            assert country_name(iso3)


def test_region_names():
    assert canonical_region("east africa") == "Eastern Africa"
    assert canonical_region("SOUTHEAST ASIA") == "South-eastern Asia"
    assert canonical_region("Sahelian") == "Sahel"
    assert {"Africa", "Americas", "Sahel", "Horn of Africa", "Middle East", "MENA", "Latin America"} <= set(
        known_regions()
    )
    assert known_regions() == sorted(known_regions())
    assert country_name("COD") == "DR Congo"
    with pytest.raises(KeyError, match="unknown country code 'XYZ'"):
        country_name("XYZ")


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("Est Africa", "Western Africa"),
        ("sahell", "Sahel"),
        ("Middle-East", "Middle East"),
        ("Latn America", "Latin America"),
    ],
)
def test_suggest_region(typed, first):
    assert suggest_region(typed)[0] == first


def test_unknown_region_message_lists_close_matches():
    expected = r"unknown region 'Est Africa'; did you mean Western Africa, Eastern Africa"
    with pytest.raises(UnknownRegion, match=expected):
        region_members("Est Africa")
    with pytest.raises(UnknownRegion, match="see known_regions"):
        region_members("Atlantis")


# Place names in the reader's language (indexer/place_names.py): read only when a language is given.
@pytest.mark.parametrize(
    ("language", "body", "countries"),
    [
        ("fr", "Élections au Sénégal et en Côte d'Ivoire.", ("SEN", "CIV")),
        ("fr", "Le cacao de Côte d\u2019Ivoire.", ("CIV",)),  # CLDR's typographic apostrophe
        ("fr", "Le cacao de Côte d'Ivoire.", ("CIV",)),
        ("fr", "Des écoles à Maurice et au Niger.", ("MUS", "NER")),
        ("fr", "Maurice Kamto a quitté la prison.", ()),  # a first name before a capitalised word: a person
        ("fr", "La réunion du conseil a eu lieu.", ()),  # a meeting, not La Réunion
        ("fr", "Les matchs en Angleterre et en Irlande du Nord.", ("GBR",)),  # not Ireland
        ("es", "Sequía en Kenia.", ("KEN",)),
        ("es", "La Virgen de Guadalupe en Granada.", ()),  # a first name and the Spanish city
        ("pt", "Cheias em Moçambique e no Quénia.", ("MOZ", "KEN")),  # Brazil's and Portugal's spellings
        ("ar", "مساعدات بإفريقيا وكينيا وللسودان", ("KEN", "SDN")),  # written on: ب "in", و "and", ل "for"
        ("ar", "تاريخ بروسيا", ()),  # Prussia, not ب + روسيا
        ("ar", "الدعم المالي", ()),  # "financial", not Mali
        ("sw", "Msaada kwa Msumbiji na Uingereza.", ("MOZ", "GBR")),
        ("sw", "Jamhuri ya Kidemokrasia ya Kongo na Kongo.", ("COD",)),  # "Kongo" alone is ambiguous, as "Congo"
        ("ha", "Shugaba ya gana da jami'an Najeriya.", ("NGA",)),  # "ya gana da": "he met with", not Ghana
        ("de", "Kenias Regierung und Großbritannien.", ("KEN", "GBR")),
        ("ru", "Помощь Кении и Южному Судану.", ("KEN", "SSD")),  # declined names
        ("am", "የኢትዮጵያ መንግስት በግብፅ", ("ETH", "EGY")),  # የ "of", በ "in"; ፅ spelt as CLDR's ጽ
    ],
)
def test_article_countries_in_other_languages(language, body, countries):
    assert tag_places("", body, language=language).countries == countries


@pytest.mark.parametrize(
    ("language", "body", "regions"),
    [
        ("fr", "Le financement de la lutte contre la traite des enfants en Afrique.", ("Africa",)),
        ("fr", "Les pays africains.", ("Africa",)),  # adjectives are written in lowercase
        ("fr", "La Communauté des États de l'Afrique de l'Ouest.",
         ("Africa", "Western Africa", "Sub-Saharan Africa", "West and Central Africa")),
        ("es", "Ayuda a África y a América Latina.", ("Africa", "Americas", "Latin America")),
        ("ar", "تمويل مكافحة الاتجار بالأطفال في أفريقيا", ("Africa",)),
        ("sw", "Ukame katika Afrika Mashariki.",  # CLDR: "Afrika ya Mashariki"
         ("Africa", "Eastern Africa", "Sub-Saharan Africa", "Eastern and Southern Africa")),
        ("sw", "Umoja wa Ulaya.", ()),  # the European Union, not Europe (Ulaya), as in English
    ],
)
def test_article_regions_in_other_languages(language, body, regions):
    places = tag_places("", body, language=language)
    assert (places.countries, places.regions) == ((), regions)


def test_other_languages_are_read_only_when_asked():
    assert tag_places("", "Sequía en Kenia y Moçambique, en Afrique.").countries == ()
    english = "Drought in Kenya; Chad Smith said aid reached the Sahel."
    assert tag_places("", english) == tag_places("", english, language=None) == tag_places("", english, language="en")
    assert tag_places("", english).countries == ("KEN",)
    # English names are read in every language; a language without names here reads English ones only
    assert tag_places("", english, language="fr").countries == ("KEN",)
    assert tag_places("", "Kenia'da kuraklık.", language="tr").countries == ()


@pytest.mark.parametrize("language", ["FR", "fr-FR", "fr_CA"])
def test_language_may_be_a_locale(language):
    assert tag_places("", "Sécheresse au Kenya et en Afrique.", language=language).regions[0] == "Africa"


def test_declared_names_in_the_language():
    places = tag_places("", "", declared=["Sénégal", "Afrique de l'Ouest", "Atlantide"], language="fr")
    assert (places.countries, places.unknown) == (("SEN",), ("Atlantide",))
    assert "Western Africa" in places.regions
    assert tag_places("", "", declared=["Afrique de l'Ouest"]).unknown == ("Afrique de l'Ouest",)


@pytest.mark.parametrize(
    ("language", "query", "countries", "regions", "residual"),
    [
        ("fr", "financement de la lutte contre la traite des enfants en Afrique", (), ("Africa",),
         "financement de la lutte contre la traite des enfants"),
        ("fr", "traite des enfants au Sénégal et en Côte d’Ivoire", ("SEN", "CIV"), (), "traite des enfants"),
        ("fr", "écoles pour l'Afrique de l'Ouest", (), ("Western Africa",), "écoles"),
        ("fr", "financement en Afrique pour les filles", (), ("Africa",), "financement pour les filles"),
        ("es", "becas para estudiantes en Kenia", ("KEN",), (), "becas para estudiantes"),
        ("ar", "تمويل بأفريقيا", (), ("Africa",), "تمويل"),  # the prefix goes with the place
        ("de", "Schulen in Kenia und Uganda", ("KEN", "UGA"), (), "Schulen"),
        ("sw", "mali ya umma", (), (), "mali ya umma"),  # "public property": Mali only with its capital
        (None, "financement en Afrique", (), (), "financement en Afrique"),
    ],
)
def test_parse_query_places_in_other_languages(language, query, countries, regions, residual):
    parsed = parse_query_places(query, language=language)
    assert (parsed.countries, parsed.regions, parsed.residual) == (countries, regions, residual)


def test_query_spans_hold_what_is_written_onto_a_name():
    assert parse_query_places("تمويل بأفريقيا", language="ar").spans == ((6, 14),)


@pytest.mark.parametrize("language", PLACE_LANGUAGES)
def test_every_language_table_names_known_places(language):
    # builds the language's names: an ISO3 code or region name in its tables that the tagger lacks raises
    assert tag_places("", "", declared=["Kenya"], language=language).countries == ("KEN",)


def test_tagger_params_record_babel():
    assert tagger_params()["babel"] == version("babel")
