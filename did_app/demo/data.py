"""The demo workspace's data: countries and their number ranges, names, word lists, constants."""
from datetime import timedelta
from decimal import Decimal
from importlib import resources

from phonenumbers import PhoneNumberType as PT

from did_app.models.numbers import FEATURES

CHUNK = 10_000
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

VOICE_IN, VOICE_OUT, T38 = FEATURES["voice_in"][1], FEATURES["voice_out"][1], FEATURES["t38"][1]
SMS_IN, SMS_OUT = FEATURES["sms_in"][1], FEATURES["sms_out"][1]
EMERGENCY, CNAM_OUT = FEATURES["emergency"][1], FEATURES["cnam_out"][1]

# The target mix (quality-bars.md): porting 2 %, awaiting 5 %, terminated 8 % (cancelled and
# expired), not configured 10 %, the rest active; 10 % expiring soon overall.
INTENTS = (("porting", 0.02), ("awaiting", 0.05), ("cancelled", 0.04), ("expired", 0.04),
           ("not_configured", 0.10), ("active", 0.75))
EXPIRING_SOON_SHARE = 0.10 / 0.90  # of the numbers that are neither porting nor terminated


# ---------------------------------------------------------------------------------------------
# Number templates: country -> (weight, lines "type|national prefix|national length|weight|region|city"),
# read from number_ranges.txt (a table, kept out of the code).
# ---------------------------------------------------------------------------------------------
def _read_ranges(text: str) -> dict[str, tuple]:
    """number_ranges.txt as {country: (weight, its range lines)}, in the file's order."""
    countries: dict[str, tuple] = {}
    country = ""  # an indented line continues the last country named
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line[0].isspace():
            weight, lines = countries[country]
            countries[country] = (weight, f"{lines}\n{line.strip()}")
        else:
            country, weight = line.split()
            countries[country] = (int(weight) if weight.isdigit() else float(weight), "")
    return countries


COUNTRIES = _read_ranges((resources.files("did_app.demo") / "number_ranges.txt").read_text(encoding="utf-8"))
CALLING_CODES = {"001": 800}

ACCEPTED_TYPES = {
    "local": {PT.FIXED_LINE, PT.FIXED_LINE_OR_MOBILE},
    "mobile": {PT.MOBILE},
    "national": {PT.UAN, PT.VOIP, PT.PERSONAL_NUMBER, PT.PAGER, PT.PREMIUM_RATE, PT.VOICEMAIL},
    "shared_cost": {PT.SHARED_COST},
    "toll_free": {PT.TOLL_FREE},
    "global": {PT.TOLL_FREE},
}
# monthly price in major units per type (two options each); setup price in major units
PRICES = {"local": (1.0, 1.5), "mobile": (4.0, 6.0), "national": (2.0, 3.0),
          "shared_cost": (3.5, 4.5), "toll_free": (6.0, 9.0), "global": (25.0, 35.0)}
PRICE_FACTOR = {"US": 0.8, "CA": 0.9, "GB": 1.0, "DE": 1.2, "FR": 1.2, "IT": 1.4, "ES": 1.2,
                "BR": 2.0, "MX": 1.5, "AR": 2.5, "CL": 2.0, "CO": 2.0, "ZA": 1.8, "JP": 2.5,
                "SG": 2.0, "HK": 2.0, "IL": 1.6, "AU": 1.5, "NZ": 1.5}
SETUP = {"toll_free": 5.0, "global": 25.0}

# Demo registration requirements (admin data, not regulatory advice; registration.md §2)
DEMO_REQUIREMENTS = (
    dict(country="DE", number_type="local", identity_type="any", address_area="country",
         personal_mandatory_fields=["birth_date"], business_mandatory_fields=["company_reg_number"],
         restriction_message="German geographic numbers need an end-user address in Germany."),
    dict(country="AT", number_type="*", identity_type="any", address_area="country"),
    dict(country="BE", number_type="*", identity_type="any", address_area="country"),
    dict(country="ES", number_type="local", identity_type="any", address_area="country",
         personal_mandatory_fields=["id_number"]),
    dict(country="IT", number_type="*", identity_type="any", address_area="country",
         personal_mandatory_fields=["personal_tax_id"], business_mandatory_fields=["vat_id"]),
    dict(country="PT", number_type="local", identity_type="any", address_area="country"),
    dict(country="GR", number_type="*", identity_type="any", address_area="country"),
    dict(country="ZA", number_type="*", identity_type="any", address_area="country",
         service_description_required=True),
    dict(country="BR", number_type="local", identity_type="business", address_area="country",
         business_mandatory_fields=["company_reg_number"],
         restriction_message="Brazilian numbers may not be used for call centres."),
)

POOLS = (
    ("Europe flat-rate pool", ("GB", "DE", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "IE", "SE", "DK",
                               "NO", "FI", "PT", "PL"), 8.0, Decimal("0.006500")),
    ("North America pool", ("US", "CA"), 6.0, Decimal("0.004500")),
)
# (name, pool index, shared channels at 2,000 numbers, metered channels, description)
CAPACITY_GROUPS = (
    ("EU contact centre", 0, 40, 20, "Shared agents for every EU support line"),
    ("UK support", 0, 16, 10, "London and Manchester support desks"),
    ("DACH sales", 0, 12, 0, "Sales lines in Germany, Austria and Switzerland"),
    ("Iberia & Italy", 0, 8, 0, None),
    ("EU overflow (metered)", 0, 0, 100, "Pay-per-minute overflow only"),
    ("US support", 1, 60, 50, "Follow-the-sun support, US half"),
    ("US sales", 1, 30, 0, "Inside sales, all US offices"),
    ("Canada", 1, 10, 5, None),
)

SIP_SITES = (("London", "lon"), ("Manchester", "man"), ("Frankfurt", "fra"), ("Berlin", "ber"),
             ("Paris", "par"), ("Madrid", "mad"), ("Milan", "mil"), ("Amsterdam", "ams"),
             ("Stockholm", "sto"), ("Dublin", "dub"), ("New York", "nyc"), ("Chicago", "chi"),
             ("San Francisco", "sfo"), ("Dallas", "dfw"), ("Toronto", "yyz"), ("Sydney", "syd"),
             ("Singapore", "sin"), ("São Paulo", "gru"), ("Johannesburg", "jnb"), ("Tokyo", "tyo"))
SIP_SYSTEMS = (("Asterisk PBX", "pbx", "northwind.example.net"), ("FreeSWITCH", "fs", "contoso.example.com"),
               ("3CX", "3cx", "fabrikam.example.org"), ("Kamailio SBC", "sbc", "globex.example.net"),
               ("Teams Direct Routing", "sbc-teams", "tailspin.example.com"),
               ("Genesys Cloud", "edge", "wingtip.example.org"), ("Cisco CUBE", "cube", "litware.example.net"),
               ("Ribbon SBC", "swe", "woodgrove.example.com"))
VOICE_GROUPS = (("EU Contact Centre", "Round-robin across the EU agent sites"),
                ("US Support", "Primary Dallas, failover Chicago"),
                ("UK Sales", None), ("DACH Hunt Group", "Frankfurt first, Berlin second"),
                ("APAC Follow-the-sun", None), ("LATAM Sales", None),
                ("Disaster Recovery", "Only used when the primary data centre is down"),
                ("Toll-free IVR", "IVR front door for every toll-free number"),
                ("Nordics", None),
                ("Legacy Avaya (decommissioned)", "All trunks removed; move the numbers off this group"))
PSTN_LABELS = ("On-call engineer", "Reception", "Night service", "Sales director mobile",
               "Support escalation", "CEO office", "Facilities", "Store manager", "Branch office",
               "Answering service")

FIRST = {
    "en": "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Susan Emma "
          "Oliver Amelia Harry Sophie Jack Chloe Daniel Olivia Thomas Grace".split(),
    "de": "Lukas Anna Maximilian Lena Felix Marie Jonas Laura Paul Julia Leon Sophie Tobias Katrin "
          "Jan Sabine Stefan Claudia Andreas Monika".split(),
    "fr": "Lucas Camille Louis Léa Hugo Manon Jules Chloé Arthur Inès Nathan Émilie Thomas Julie".split(),
    "es": "Hugo Lucía Martín Sofía Pablo Martina Javier Carmen Alejandro Elena Diego Laura Sergio".split(),
    "it": "Francesco Giulia Alessandro Sofia Lorenzo Aurora Matteo Chiara Andrea Martina Marco Elena".split(),
    "pt": "João Maria Pedro Ana Tiago Beatriz Rafael Mariana Gabriel Inês Lucas Camila".split(),
    "nl": "Daan Emma Sem Julia Lucas Tess Finn Sophie Bram Anna Jesse Fleur".split(),
    "nordic": "Erik Anna Lars Ingrid Mikael Sofia Oskar Freja Johan Emma Nils Astrid".split(),
    "pl": "Jakub Zuzanna Kacper Julia Szymon Maja Filip Zofia Piotr Anna".split(),
}
LAST = {
    "en": "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Clarke Walker Wright "
          "Robinson Thompson Hughes Patel Nguyen Murphy O'Brien Kelly".split(),
    "de": "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Schulz Koch Richter".split(),
    "fr": "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Laurent".split(),
    "es": "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Ruiz".split(),
    "it": "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco".split(),
    "pt": "Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Sousa Almeida".split(),
    "nl": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit"],
    "nordic": "Andersson Johansson Karlsson Nielsen Hansen Larsen Virtanen Korhonen Berg Lindqvist".split(),
    "pl": "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński".split(),
}
LOCALE = {"DE": "de", "AT": "de", "CH": "de", "FR": "fr", "BE": "fr", "ES": "es", "MX": "es", "AR": "es",
          "CL": "es", "CO": "es", "IT": "it", "PT": "pt", "BR": "pt", "NL": "nl", "SE": "nordic",
          "DK": "nordic", "NO": "nordic", "FI": "nordic", "PL": "pl"}
STREETS = {
    "en": ("High Street", "Station Road", "Market Street", "Main Street", "Oak Avenue", "Park Lane",
           "Mission Street", "Broadway", "King Street", "Queen's Road", "Harbour View", "Elm Street"),
    "de": ("Hauptstraße", "Bahnhofstraße", "Friedrichstraße", "Lindenallee", "Schillerstraße", "Gartenweg"),
    "fr": ("rue de la République", "avenue Victor Hugo", "boulevard Haussmann", "rue de Rivoli", "quai Voltaire"),
    "es": ("Calle Mayor", "Gran Vía", "Avenida de la Constitución", "Calle de Alcalá", "Paseo del Prado"),
    "it": ("Via Roma", "Corso Italia", "Via Garibaldi", "Via Dante", "Piazza del Duomo"),
    "pt": ("Rua Augusta", "Avenida da Liberdade", "Rua do Ouro", "Avenida Paulista", "Rua das Flores"),
    "nl": ("Keizersgracht", "Damrak", "Stationsplein", "Kerkstraat", "Coolsingel"),
    "nordic": ("Drottninggatan", "Strøget", "Karl Johans gate", "Mannerheimintie", "Storgatan"),
    "pl": ("ulica Marszałkowska", "ulica Floriańska", "aleja Jerozolimskie", "ulica Długa"),
}
HOUSE_FIRST = {"en", "fr"}  # "221 Baker Street" rather than "Hauptstraße 12"
POSTAL = {"US": "#####", "CA": "@#@ #@#", "GB": "@@# #@@", "DE": "#####", "FR": "75###", "ES": "28###",
          "IT": "20###", "NL": "10## @@", "BE": "1###", "AT": "1###", "CH": "8###", "IE": "D## @###",
          "SE": "### ##", "DK": "1###", "NO": "0###", "FI": "00###", "PL": "##-###", "PT": "1###-###",
          "CZ": "### ##", "GR": "### ##", "RO": "######", "HU": "1###", "SK": "### ##", "BG": "1###",
          "HR": "10###", "LT": "LT-#####", "LV": "LV-####", "EE": "1####", "IL": "#######",
          "ZA": "####", "JP": "###-####", "SG": "######", "HK": "000000", "AU": "2###", "NZ": "####",
          "BR": "#####-###", "MX": "#####", "AR": "C####@@@", "CL": "#######", "CO": "######"}
CAPITAL = {"SG": "Singapore", "HK": "Hong Kong", "001": None}
COMPANY_STEMS = ("Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Tailspin", "Wingtip",
                 "Litware", "Adventure Works", "Blue Yonder", "Proseware", "Coho", "Alpine Ski House",
                 "Woodgrove", "Lamna", "Fourth Coffee", "Trey Research", "Relecloud", "VanArsdel",
                 "Humongous", "Southridge", "A. Datum", "Wide World", "Margie's", "Lucerne", "Munson's")
COMPANY_TRADES = ("Logistics", "Telecom", "Health", "Retail", "Travel", "Software", "Energy", "Media",
                  "Consulting", "Foods", "Insurance", "Robotics", "Pharma", "Finance", "Hotels")
COMPANY_SUFFIX = {"US": "Inc.", "CA": "Inc.", "GB": "Ltd", "IE": "Ltd", "DE": "GmbH", "AT": "GmbH",
                  "CH": "AG", "FR": "SAS", "BE": "SRL", "ES": "S.L.", "IT": "S.r.l.", "NL": "B.V.",
                  "SE": "AB", "DK": "ApS", "NO": "AS", "FI": "Oy", "PL": "sp. z o.o.", "PT": "Lda",
                  "BR": "Ltda.", "MX": "S.A. de C.V.", "AU": "Pty Ltd", "ZA": "(Pty) Ltd", "JP": "K.K."}
DESCRIPTIONS = (
    "Main line — {city}", "Support hotline", "Sales, {where}", "Marketing campaign Q{q} {year}",
    "Customer: {company}", "{company}, billing", "Ticket #{n}", "Reception", "After-hours, forwarded to on-call",
    "Test number — do not publish", "IVR entry point", "Fax, accounts payable", "Landing page A/B test, variant {v}",
    "Reserved for {company}", "Recruitment line", "Partner hotline, {company}", "Service desk",
    "Branch office {city}", "Trade show {year}, booth {n}", "Collections", "Press office", "WhatsApp Business line",
    "Two-factor SMS", "Delivery notifications", "Field technicians, dispatch",
)
CARRIERS = ("Lumen", "Verizon Business", "BT Wholesale", "Colt Technology Services", "Vonage Business",
            "Telekom Deutschland", "Bandwidth", "Orange Business")
EMERGENCY_COUNTRIES = {"US", "CA", "GB", "DE", "FR", "NL", "AU", "IE", "SE", "BE"}
