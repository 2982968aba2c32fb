"""Fixed vocabularies: names, places, merchant categories, software, countries.

Small, hand-written lists; the generators draw from them with seeded weights.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Haruto",
    "Yui",
    "Sota",
    "Hina",
    "Yuto",
    "Mei",
    "Riku",
    "Aoi",
    "Ren",
    "Sakura",
    "Kaito",
    "Yuna",
    "Takumi",
    "Rin",
    "Daiki",
    "Miyu",
    "Kenta",
    "Akari",
    "Shota",
    "Emi",
    "Hiroshi",
    "Keiko",
    "Takeshi",
    "Naoko",
    "Kenji",
    "Yoko",
    "Satoshi",
    "Mariko",
    "Makoto",
    "Ayumi",
    "James",
    "Emma",
    "Wei",
    "Min-jun",
    "Olivia",
    "Lucas",
    "Sofia",
    "Arjun",
    "Chloe",
    "Noah",
)
LAST_NAMES = (
    "Sato",
    "Suzuki",
    "Takahashi",
    "Tanaka",
    "Watanabe",
    "Ito",
    "Yamamoto",
    "Nakamura",
    "Kobayashi",
    "Kato",
    "Yoshida",
    "Yamada",
    "Sasaki",
    "Yamaguchi",
    "Matsumoto",
    "Inoue",
    "Kimura",
    "Hayashi",
    "Shimizu",
    "Yamazaki",
    "Mori",
    "Abe",
    "Ikeda",
    "Hashimoto",
    "Ishikawa",
    "Ogawa",
    "Fujita",
    "Okada",
    "Goto",
    "Hasegawa",
    "Smith",
    "Brown",
    "Chen",
    "Kim",
    "Lee",
)
TOWNS = (
    "Shibuya",
    "Shinjuku",
    "Minato",
    "Setagaya",
    "Nerima",
    "Ota",
    "Suginami",
    "Itabashi",
    "Kita",
    "Meguro",
    "Chofu",
    "Musashino",
    "Kawasaki",
    "Yokohama",
    "Saitama",
    "Chiba",
    "Funabashi",
    "Hachioji",
    "Machida",
    "Fuchu",
)
CITIES = ("Tokyo", "Kanagawa", "Saitama", "Chiba")
MAIL_DOMAINS = (
    "gmail.com",
    "yahoo.co.jp",
    "docomo.ne.jp",
    "icloud.com",
    "outlook.jp",
    "ezweb.ne.jp",
    "softbank.ne.jp",
)

#: Countries customers live in besides the home country, with weights.
OTHER_HOME_COUNTRIES = (("US", 3), ("GB", 2), ("CN", 3), ("KR", 3), ("SG", 1), ("AU", 1))
#: Where customers travel, with weights.
TRAVEL_COUNTRIES = (
    ("US", 5),
    ("KR", 5),
    ("TW", 4),
    ("TH", 3),
    ("FR", 2),
    ("GB", 2),
    ("SG", 2),
    ("HK", 2),
    ("AU", 1),
    ("IT", 1),
    ("DE", 1),
)
#: Countries card fraud and account takeover are run from.
FRAUD_COUNTRIES = ("BR", "RO", "NG", "RU", "UA", "VN", "ID", "NL", "US", "MD")
#: Beneficiary countries of fraudulent SWIFT payments.
HEIST_COUNTRIES = ("PH", "LK", "HK", "KH", "MY")
#: Correspondent-bank countries of legitimate SWIFT payments.
CORRESPONDENT_COUNTRIES = ("US", "GB", "DE", "SG", "HK", "CN", "AU", "FR", "CH")

#: Merchant categories: (MCC, brands, weight in card spend, card-not-present share,
#: median amount multiplier relative to the customer's typical spend).
MERCHANT_CATEGORIES = (
    ("5411", ("LIFE", "AEON", "SEIYU", "MARUETSU", "OK STORE"), 20, 0.02, 1.0),
    ("5499", ("LAWSON", "FAMILYMART", "7-ELEVEN", "MINISTOP"), 18, 0.0, 0.3),
    ("5812", ("SAIZERIYA", "GUSTO", "JONATHAN", "OOTOYA", "SUSHIRO"), 12, 0.0, 1.0),
    ("5814", ("MCDONALDS", "YOSHINOYA", "MATSUYA", "STARBUCKS", "DOUTOR"), 12, 0.05, 0.35),
    ("5541", ("ENEOS", "IDEMITSU", "COSMO OIL"), 4, 0.0, 1.4),
    ("5912", ("MATSUMOTOKIYOSHI", "WELCIA", "SUGI DRUG"), 6, 0.05, 0.8),
    ("5311", ("ISETAN", "TAKASHIMAYA", "MITSUKOSHI", "DAIMARU"), 3, 0.1, 3.0),
    ("5651", ("UNIQLO", "GU", "MUJI", "ZARA"), 5, 0.3, 2.0),
    ("5732", ("BIC CAMERA", "YODOBASHI", "EDION", "K'S DENKI"), 2, 0.35, 4.0),
    ("5942", ("KINOKUNIYA", "TSUTAYA", "JUNKUDO"), 2, 0.3, 0.8),
    ("4111", ("JR EAST", "TOKYO METRO", "TOEI"), 8, 0.2, 0.25),
    ("4121", ("NIHON KOTSU", "GO TAXI", "UBER"), 2, 0.5, 1.2),
    ("7832", ("TOHO CINEMAS", "AEON CINEMA"), 1, 0.4, 1.0),
    ("4814", ("NTT DOCOMO", "SOFTBANK", "AU KDDI", "RAKUTEN MOBILE"), 1, 1.0, 2.0),
    ("5815", ("APPLE.COM/BILL", "GOOGLE PLAY", "NETFLIX.COM", "SPOTIFY"), 3, 1.0, 0.4),
    ("5999", ("AMAZON.CO.JP", "RAKUTEN ICHIBA", "MERCARI"), 8, 1.0, 1.2),
)
#: Where stolen cards are cashed out: electronics and gift cards, bought online.
FRAUD_MERCHANTS = (
    ("5732", "ELECTROWORLD ONLINE"),
    ("5732", "TECHDEPOT.COM"),
    ("5732", "GADGETHUB"),
    ("5999", "GIFTCARDMALL"),
    ("5947", "EGIFT EXPRESS"),
    ("5947", "CARDCASH"),
)
#: Small online merchants used to test stolen cards (donations, subscriptions, apps).
TESTING_MERCHANTS = (
    ("8398", "HELPKIDS FOUNDATION"),
    ("5815", "APPSTORE MINI"),
    ("5968", "TRIALBOX SUBS"),
    ("5815", "STREAMPASS"),
    ("8398", "SEEDS OF HOPE"),
    ("5999", "PRINTSHOP24"),
    ("5968", "VITAMONTHLY"),
    ("4816", "CLOUDVPN"),
)

USER_AGENTS_WEB = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36 Edg/131.0",
)
USER_AGENTS_MOBILE = (
    "MamoriBank/6.2.1 (iPhone; iOS 18.1; Scale/3.00)",
    "MamoriBank/6.2.1 (iPhone; iOS 17.6; Scale/3.00)",
    "MamoriBank/6.2.0 (Android 15; Pixel 8)",
    "MamoriBank/6.1.4 (Android 14; SC-51D)",
    "MamoriBank/6.2.1 (Android 14; SO-51E)",
)
#: What credential-stuffing tools announce themselves as.
USER_AGENTS_STUFFING = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0 Safari/537.36",
    "python-requests/2.31.0",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
)

#: Employee roles and their share of the staff.
ROLES = (
    ("teller", 0.38),
    ("back_office", 0.16),
    ("payments_operator", 0.08),
    ("it_admin", 0.07),
    ("developer", 0.11),
    ("analyst", 0.1),
    ("manager", 0.1),
)

#: The bank's servers: name, last octet in 10.10.0.0/24, role.
SERVERS = (
    ("DC01", 10, "domain_controller"),
    ("CORE01", 20, "core_banking"),
    ("PAYGW01", 30, "payment_gateway"),
    ("WEB01", 40, "online_banking"),
    ("DB01", 50, "database"),
    ("BACKUP01", 60, "backup"),
    ("MAIL01", 70, "mail"),
    ("PROXY01", 80, "proxy"),
)

OFFICE = r"C:\Program Files\Microsoft Office\root\Office16"
#: Processes on a working desktop: (Image, parent Image, command line template, weight).
#: `{user}` is replaced by the user's name.
DESKTOP_PROCESSES = (
    (
        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        r'"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer '
        r"--renderer-client-id=12 --field-trial-handle=1880",
        30,
    ),
    (
        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        r"C:\Windows\explorer.exe",
        r'"C:\Program Files\Google\Chrome\Application\chrome.exe"',
        4,
    ),
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\System32\services.exe",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
        14,
    ),
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\System32\services.exe",
        r"C:\Windows\System32\svchost.exe -k LocalServiceNetworkRestricted -p",
        8,
    ),
    (OFFICE + r"\OUTLOOK.EXE", r"C:\Windows\explorer.exe", f'"{OFFICE}\\OUTLOOK.EXE"', 3),
    (
        OFFICE + r"\EXCEL.EXE",
        r"C:\Windows\explorer.exe",
        f'"{OFFICE}\\EXCEL.EXE" "C:\\Users\\{{user}}\\Documents\\report.xlsx"',
        5,
    ),
    (
        OFFICE + r"\WINWORD.EXE",
        r"C:\Windows\explorer.exe",
        f'"{OFFICE}\\WINWORD.EXE" /n "C:\\Users\\{{user}}\\Documents\\memo.docx"',
        3,
    ),
    (OFFICE + r"\EXCEL.EXE", OFFICE + r"\OUTLOOK.EXE", f'"{OFFICE}\\EXCEL.EXE" /dde', 1),
    (
        r"C:\Users\{user}\AppData\Local\Microsoft\Teams\current\Teams.exe",
        r"C:\Users\{user}\AppData\Local\Microsoft\Teams\current\Teams.exe",
        r'"C:\Users\{user}\AppData\Local\Microsoft\Teams\current\Teams.exe" --type=renderer',
        8,
    ),
    (
        r"C:\Windows\System32\conhost.exe",
        r"C:\Windows\System32\svchost.exe",
        r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1",
        6,
    ),
    (r"C:\Windows\System32\taskhostw.exe", r"C:\Windows\System32\svchost.exe", r"taskhostw.exe", 4),
    (
        r"C:\Windows\System32\backgroundTaskHost.exe",
        r"C:\Windows\System32\svchost.exe",
        r'"C:\Windows\system32\backgroundTaskHost.exe" -ServerName:App.AppXmtcan0h2tfbfy7k9kn8.mca',
        3,
    ),
    (
        r"C:\Windows\System32\SearchProtocolHost.exe",
        r"C:\Windows\System32\SearchIndexer.exe",
        r'"C:\Windows\system32\SearchProtocolHost.exe" Global\UsGthrFltPipeMssGthrPipe1',
        4,
    ),
    (
        r"C:\Windows\explorer.exe",
        r"C:\Windows\System32\userinit.exe",
        r"C:\Windows\Explorer.EXE",
        1,
    ),
    (
        r"C:\Program Files\Mamori Bank\Teller\TellerClient.exe",
        r"C:\Windows\explorer.exe",
        r'"C:\Program Files\Mamori Bank\Teller\TellerClient.exe" /server:CORE01',
        2,
    ),
)
#: Legitimate administration by IT: (Image, parent Image, command line, weight).
ADMIN_PROCESSES = (
    (
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        r"C:\Windows\explorer.exe",
        r'"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"',
        4,
    ),
    (
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        r"C:\Windows\System32\svchost.exe",
        r"powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\IT\Scripts\Get-PatchState.ps1",
        2,
    ),
    (
        r"C:\Windows\System32\mmc.exe",
        r"C:\Windows\explorer.exe",
        r'"C:\Windows\system32\mmc.exe" "C:\Windows\system32\dsa.msc"',
        2,
    ),
    (
        r"C:\Windows\System32\mstsc.exe",
        r"C:\Windows\explorer.exe",
        r'"C:\Windows\system32\mstsc.exe" /v:CORE01',
        2,
    ),
    (
        r"C:\Windows\System32\cmd.exe",
        r"C:\Windows\explorer.exe",
        r'"C:\Windows\system32\cmd.exe"',
        2,
    ),
    (r"C:\Windows\System32\ipconfig.exe", r"C:\Windows\System32\cmd.exe", r"ipconfig /all", 1),
)
#: Processes on the servers: (Image, parent Image, command line, weight).
SERVER_PROCESSES = (
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\System32\services.exe",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
        10,
    ),
    (
        r"C:\Windows\System32\wbem\WmiPrvSE.exe",
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
        6,
    ),
    (
        r"C:\Windows\System32\conhost.exe",
        r"C:\Windows\System32\svchost.exe",
        r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1",
        4,
    ),
    (
        r"C:\Program Files\Veeam\Backup\VeeamAgent.exe",
        r"C:\Windows\System32\services.exe",
        r'"C:\Program Files\Veeam\Backup\VeeamAgent.exe" -job nightly',
        1,
    ),
    (r"C:\Windows\System32\taskhostw.exe", r"C:\Windows\System32\svchost.exe", r"taskhostw.exe", 3),
)
#: Legitimate service installs IT does now and then: (ServiceName, ImagePath).
LEGIT_SERVICES = (
    ("TaniumClient", r'"C:\Program Files (x86)\Tanium\Tanium Client\TaniumClient.exe" --service'),
    ("VMTools", r'"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe"'),
    ("SplunkForwarder", r'"C:\Program Files\SplunkUniversalForwarder\bin\splunkd.exe" service'),
)
