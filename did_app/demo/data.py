"""The demo workspace's data: countries and their number ranges, names, word lists, constants."""
from datetime import timedelta
from decimal import Decimal

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
# Number templates: country -> (weight, lines "type|national prefix|national length|weight|region|city").
# Prefixes are real, valid ranges; every generated number is still checked with phonenumbers.
# ---------------------------------------------------------------------------------------------
COUNTRIES = {
    "US": (30, """
        local|415|10|6|CA|San Francisco
        local|628|10|2|CA|San Francisco
        local|212|10|6|NY|New York
        local|646|10|4|NY|New York
        local|718|10|2|NY|Brooklyn
        local|312|10|4|IL|Chicago
        local|773|10|2|IL|Chicago
        local|213|10|4|CA|Los Angeles
        local|310|10|2|CA|Los Angeles
        local|305|10|3|FL|Miami
        local|617|10|3|MA|Boston
        local|206|10|3|WA|Seattle
        local|512|10|2|TX|Austin
        local|214|10|3|TX|Dallas
        local|713|10|3|TX|Houston
        local|404|10|3|GA|Atlanta
        local|702|10|2|NV|Las Vegas
        local|303|10|2|CO|Denver
        local|602|10|2|AZ|Phoenix
        local|202|10|2|DC|Washington
        toll_free|800|10|4||
        toll_free|888|10|3||
        toll_free|877|10|2||
        toll_free|866|10|2||
        toll_free|855|10|1||
        toll_free|844|10|1||
        toll_free|833|10|1||"""),
    "CA": (4, """
        local|416|10|3|ON|Toronto
        local|647|10|1|ON|Toronto
        local|604|10|2|BC|Vancouver
        local|514|10|2|QC|Montreal
        local|403|10|1|AB|Calgary
        local|613|10|1|ON|Ottawa"""),
    "GB": (9, """
        local|207|10|5|England|London
        local|203|10|3|England|London
        local|161|10|2|England|Manchester
        local|121|10|2|England|Birmingham
        local|131|10|1|Scotland|Edinburgh
        local|141|10|1|Scotland|Glasgow
        local|1173|10|1|England|Bristol
        local|1132|10|1|England|Leeds
        mobile|74|10|1||
        mobile|75|10|1||
        mobile|77|10|2||
        mobile|78|10|1||
        mobile|79|10|2||
        toll_free|800|10|2||
        toll_free|808|10|1||
        national|330|10|1||
        national|333|10|1||"""),
    "DE": (7, """
        local|30|10|4|Berlin|Berlin
        local|89|10|3|Bavaria|Munich
        local|40|10|2|Hamburg|Hamburg
        local|69|10|3|Hesse|Frankfurt am Main
        local|221|10|1|North Rhine-Westphalia|Cologne
        local|211|10|1|North Rhine-Westphalia|Düsseldorf
        local|711|10|1|Baden-Württemberg|Stuttgart
        mobile|151|11|1||
        mobile|160|11|1||
        mobile|170|11|1||
        mobile|176|11|1||
        mobile|179|11|1||
        toll_free|800|10|2||
        shared_cost|1805|11|1||"""),
    "FR": (4, """
        local|14|9|3|Île-de-France|Paris
        local|15|9|1|Île-de-France|Paris
        local|472|9|1|Auvergne-Rhône-Alpes|Lyon
        local|491|9|1|Provence-Alpes-Côte d'Azur|Marseille
        local|561|9|1|Occitanie|Toulouse
        local|388|9|0.5|Grand Est|Strasbourg
        local|240|9|0.5|Pays de la Loire|Nantes
        mobile|6|9|1||
        mobile|75|9|1||
        national|9|9|2||
        toll_free|800|9|1||
        toll_free|805|9|0.5||
        shared_cost|810|9|0.5||
        shared_cost|884|9|0.5||"""),
    "ES": (3, """
        local|91|9|3|Madrid|Madrid
        local|93|9|2|Catalonia|Barcelona
        local|96|9|1|Valencian Community|Valencia
        local|954|9|0.5|Andalusia|Seville
        local|944|9|0.5|Basque Country|Bilbao
        mobile|6|9|1||
        toll_free|900|9|1||
        shared_cost|901|9|0.5||
        national|51|9|0.5||"""),
    "IT": (3, """
        local|02|10|3|Lombardy|Milan
        local|06|10|2|Lazio|Rome
        local|011|10|1|Piedmont|Turin
        local|081|10|1|Campania|Naples
        mobile|33|10|1||
        mobile|34|10|1||
        toll_free|800|9|1||
        shared_cost|848|9|0.5||"""),
    "NL": (3, """
        local|20|9|3|North Holland|Amsterdam
        local|10|9|2|South Holland|Rotterdam
        local|70|9|1|South Holland|The Hague
        local|30|9|1|Utrecht|Utrecht
        mobile|61|9|1||
        mobile|62|9|0.5||
        mobile|64|9|0.5||
        toll_free|800|7|0.5||
        national|85|9|1||"""),
    "AU": (3, """
        local|29|9|2|NSW|Sydney
        local|28|9|1|NSW|Sydney
        local|39|9|2|VIC|Melbourne
        local|38|9|1|VIC|Melbourne
        local|73|9|1|QLD|Brisbane
        local|89|9|0.5|WA|Perth
        local|88|9|0.5|SA|Adelaide
        mobile|4|9|1||
        toll_free|1800|10|1||
        shared_cost|1300|10|1||"""),
    "BR": (2.5, """
        local|113|10|2|SP|São Paulo
        local|213|10|1|RJ|Rio de Janeiro
        local|313|10|0.5|MG|Belo Horizonte
        local|613|10|0.5|DF|Brasília
        mobile|119|11|1||
        mobile|219|11|0.5||
        toll_free|800|10|0.5||"""),
    "MX": (2, """
        local|55|10|3|CDMX|Mexico City
        local|33|10|1|Jalisco|Guadalajara
        local|81|10|1|Nuevo León|Monterrey
        toll_free|800|10|1||"""),
    "SE": (1.5, """
        local|8|9|2|Stockholm|Stockholm
        local|31|9|1|Västra Götaland|Gothenburg
        local|40|9|0.5|Skåne|Malmö
        mobile|70|9|0.5||
        mobile|72|9|0.5||
        mobile|73|9|0.5||
        mobile|76|9|0.5||
        toll_free|20|9|0.5||
        national|10|9|0.5||"""),
    "BE": (1.5, """
        local|2|8|2|Brussels|Brussels
        local|3|8|1|Antwerp|Antwerp
        mobile|47|9|0.5||
        mobile|48|9|0.5||
        mobile|49|9|0.5||
        toll_free|800|8|0.5||"""),
    "AT": (1.2, """
        local|1|9|2|Vienna|Vienna
        local|316|9|0.5|Styria|Graz
        local|662|9|0.5|Salzburg|Salzburg
        mobile|664|10|0.5||
        mobile|676|10|0.5||
        toll_free|800|9|0.5||"""),
    "CH": (1.2, """
        local|44|9|2|Zurich|Zurich
        local|22|9|1|Geneva|Geneva
        local|31|9|0.5|Bern|Bern
        local|61|9|0.5|Basel-Stadt|Basel
        mobile|76|9|0.5||
        mobile|78|9|0.5||
        mobile|79|9|0.5||
        toll_free|800|9|0.5||
        shared_cost|848|9|0.5||"""),
    "IE": (1, """
        local|1|9|2|Leinster|Dublin
        local|21|9|0.5|Munster|Cork
        local|91|8|0.5|Connacht|Galway
        mobile|85|9|0.5||
        mobile|86|9|0.5||
        mobile|87|9|0.5||
        toll_free|1800|10|0.5||"""),
    "PL": (1.2, """
        local|22|9|2|Masovia|Warsaw
        local|12|9|1|Lesser Poland|Kraków
        local|71|9|0.5|Lower Silesia|Wrocław
        local|58|9|0.5|Pomerania|Gdańsk
        mobile|50|9|0.5||
        mobile|60|9|0.5||
        mobile|69|9|0.5||
        toll_free|800|10|0.5||"""),
    "PT": (1, """
        local|21|9|2|Lisbon|Lisbon
        local|22|9|1|Porto|Porto
        mobile|91|9|0.5||
        mobile|93|9|0.5||
        mobile|96|9|0.5||
        toll_free|800|9|0.5||"""),
    "DK": (0.8, """
        local|33|8|2|Capital Region|Copenhagen
        toll_free|80|8|0.5||"""),
    "NO": (0.8, """
        local|22|8|2|Oslo|Oslo
        mobile|46|8|1||
        mobile|9|8|1||
        toll_free|800|8|0.5||"""),
    "FI": (0.7, """
        local|9|9|2|Uusimaa|Helsinki
        mobile|40|9|1||
        mobile|50|9|1||
        toll_free|800|9|0.5||"""),
    "CZ": (0.7, """
        local|2|9|2|Prague|Prague
        mobile|73|9|0.5||
        mobile|77|9|0.5||
        toll_free|800|9|0.5||"""),
    "GR": (0.6, """
        local|21|10|2|Attica|Athens
        mobile|69|10|1||
        toll_free|800|10|0.5||"""),
    "RO": (0.6, """
        local|21|9|2|Bucharest|Bucharest
        mobile|72|9|0.5||
        mobile|74|9|0.5||
        toll_free|800|9|0.5||"""),
    "HU": (0.5, """
        local|1|8|2|Budapest|Budapest
        mobile|20|9|0.5||
        mobile|30|9|0.5||
        mobile|70|9|0.5||
        toll_free|80|8|0.5||"""),
    "SK": (0.4, """
        local|2|9|2|Bratislava|Bratislava
        mobile|91|9|1||"""),
    "BG": (0.4, """
        local|2|8|2|Sofia City|Sofia
        mobile|87|9|0.5||
        mobile|88|9|0.5||
        mobile|89|9|0.5||"""),
    "HR": (0.4, """
        local|1|8|2|City of Zagreb|Zagreb
        mobile|91|9|0.5||
        mobile|92|9|0.5||
        mobile|98|9|0.5||"""),
    "LT": (0.3, """
        local|52|8|2||Vilnius
        mobile|6|8|1||"""),
    "LV": (0.3, """
        local|67|8|2||Riga
        mobile|2|8|1||"""),
    "EE": (0.3, """
        local|6|7|2||Tallinn
        mobile|5|8|1||"""),
    "IL": (0.8, """
        local|3|8|2||Tel Aviv
        local|2|8|1||Jerusalem
        mobile|52|9|1||
        mobile|50|9|1||
        toll_free|1800|10|0.5||"""),
    "ZA": (1, """
        local|11|9|2|Gauteng|Johannesburg
        local|21|9|1|Western Cape|Cape Town
        local|31|9|0.5|KwaZulu-Natal|Durban
        mobile|82|9|0.5||
        mobile|83|9|0.5||
        mobile|84|9|0.5||
        toll_free|800|9|0.5||"""),
    "JP": (1, """
        local|3|9|2|Tokyo|Tokyo
        local|6|9|1|Osaka|Osaka
        mobile|90|10|0.5||
        mobile|80|10|0.5||
        toll_free|120|9|0.5||
        national|50|10|0.5||"""),
    "SG": (0.8, """
        local|6|8|2||
        mobile|8|8|1||
        mobile|9|8|0.5||
        toll_free|1800|11|0.5||"""),
    "HK": (0.8, """
        local|2|8|2||
        local|3|8|1||
        mobile|6|8|1||
        mobile|9|8|0.5||
        toll_free|800|9|0.5||"""),
    "NZ": (0.6, """
        local|9|8|2|Auckland|Auckland
        local|4|8|1|Wellington|Wellington
        local|3|8|0.5|Canterbury|Christchurch
        mobile|21|9|0.5||
        mobile|22|9|0.5||
        mobile|27|9|0.5||
        toll_free|800|9|0.5||"""),
    "AR": (0.6, """
        local|11|10|2|Buenos Aires|Buenos Aires
        toll_free|800|10|0.5||"""),
    "CL": (0.6, """
        local|22|9|2|Santiago Metropolitan|Santiago
        toll_free|800|9|0.5||"""),
    "CO": (0.6, """
        local|601|10|2|Bogotá|Bogotá
        local|604|10|1|Antioquia|Medellín
        mobile|31|10|1||
        toll_free|1800|11|0.5||"""),
    "001": (0.3, """
        global||8|1||"""),
}
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
