"""Reference data of the sandbox bank: our branches and products, the other banks, the
merchants customers spend at, the companies that collect direct debits.

Real UK brand names make the sandbox look like a bank statement does; every person, employer,
landlord, street and phone number is invented (phone numbers are from Ofcom's ranges reserved
for drama, e-mail addresses are on example.* domains).
"""
from __future__ import annotations

from dataclasses import dataclass

# Our branches: every sort code of the bank starts 40-47.
PERSONAL_SORT_CODES = ("404784", "404785", "404786", "404790")
BUSINESS_SORT_CODES = ("404791", "404792")

# First two digits of other banks' sort codes, for counterparties that bank elsewhere.
OTHER_BANKS = (("20", "Barclays Bank UK PLC"), ("30", "Lloyds Bank PLC"),
               ("60", "National Westminster Bank PLC"), ("09", "Santander UK PLC"),
               ("07", "Nationwide Building Society"), ("11", "Bank of Scotland PLC"),
               ("04", "Monzo Bank Ltd"), ("83", "Royal Bank of Scotland PLC"))


@dataclass(frozen=True)
class Town:
    name: str
    postcode_area: str
    county: str
    council: str
    dialling_code: str       # an Ofcom drama range: dialling_code + "4960" + 3 digits


TOWNS = (
    Town("London", "SE", "Greater London", "Southwark Council", "20"),
    Town("Manchester", "M", "Greater Manchester", "Manchester City Council", "161"),
    Town("Leeds", "LS", "West Yorkshire", "Leeds City Council", "113"),
    Town("Bristol", "BS", "Bristol", "Bristol City Council", "117"),
    Town("Birmingham", "B", "West Midlands", "Birmingham City Council", "121"),
    Town("Sheffield", "S", "South Yorkshire", "Sheffield City Council", "114"),
    Town("Nottingham", "NG", "Nottinghamshire", "Nottingham City Council", "115"),
    Town("Cardiff", "CF", "South Glamorgan", "Cardiff Council", "29"),
    Town("Edinburgh", "EH", "City of Edinburgh", "City of Edinburgh Council", "131"),
    Town("Glasgow", "G", "Glasgow City", "Glasgow City Council", "141"),
    Town("Brighton", "BN", "East Sussex", "Brighton and Hove City Council", "1273"),
    Town("Norwich", "NR", "Norfolk", "Norwich City Council", "1603"),
)
STREET_SUFFIXES = ("Road", "Street", "Avenue", "Lane", "Close", "Gardens", "Crescent", "Drive",
                   "Terrace", "Grove", "Way", "Place", "Mews", "Row")
EMPLOYER_SUFFIXES = ("Group", "Holdings", "Logistics", "Consulting", "Engineering", "Foods",
                     "Healthcare", "Retail", "Systems", "Partners", "Manufacturing", "Media")
BUSINESS_TRADES = ("Design", "Joinery", "Plumbing and Heating", "Digital", "Catering",
                   "Landscapes", "Electrical", "Print", "Architects", "Bakery")
BUSINESS_STRUCTURES = (("UK.OBIE.PrivateLimitedCompany", "Ltd"),
                       ("UK.OBIE.PrivateLimitedCompany", "Ltd"),
                       ("UK.OBIE.LimitedLiabilityPartnership", "LLP"),
                       ("UK.OBIE.Sole", ""),
                       ("UK.OBIE.GeneralPartnership", "& Co"))


@dataclass(frozen=True)
class ProductSpec:
    key: str
    name: str
    product_type: str             # OB ProductType
    details: dict


PRODUCTS = (
    ProductSpec("pca", "Everyday Current Account", "PersonalCurrentAccount",
                {"MonthlyFee": "0.00", "ArrangedOverdraftEAR": "39.90",
                 "Features": ["Contactless Visa debit card", "Arranged overdraft on application"]}),
    ProductSpec("saver", "Easy Access Saver", "Other",
                {"OtherProductType": {"Name": "Easy Access Saver",
                                      "Description": "Instant-access savings paying a variable "
                                                     "rate, interest paid monthly"},
                 "InterestRateAER": "3.50"}),
    ProductSpec("bca", "Business Current Account", "BusinessCurrentAccount",
                {"MonthlyFee": "6.50", "ArrangedOverdraftEAR": "14.90",
                 "Features": ["Mastercard business debit card", "Free Faster Payments"]}),
)
SAVINGS_AER = "0.035"
OVERDRAFT_EAR = "0.399"


@dataclass(frozen=True)
class Merchant:
    name: str
    mcc: str
    online: bool = False


@dataclass(frozen=True)
class SpendCategory:
    name: str
    per_month: tuple[int, int]        # how many times a month (before the customer's appetite)
    pence: tuple[int, int]            # the range of one payment
    merchants: tuple[Merchant, ...]


PERSONAL_SPENDING = (
    SpendCategory("groceries", (3, 8), (8_50, 96_00), (
        Merchant("Tesco", "5411"), Merchant("Sainsbury's", "5411"), Merchant("Asda", "5411"),
        Merchant("Aldi", "5411"), Merchant("Lidl", "5411"), Merchant("Waitrose & Partners", "5411"),
        Merchant("Co-op Food", "5411"), Merchant("M&S Simply Food", "5411"),
        Merchant("Ocado", "5411", online=True))),
    SpendCategory("coffee and lunch", (2, 8), (2_20, 11_80), (
        Merchant("Pret A Manger", "5814"), Merchant("Costa Coffee", "5814"),
        Merchant("Caffe Nero", "5814"), Merchant("Greggs", "5814"), Merchant("Leon", "5814"))),
    SpendCategory("transport", (1, 6), (2_80, 48_00), (
        Merchant("TfL Travel Charge", "4111"), Merchant("Trainline", "4112", online=True),
        Merchant("Uber", "4121", online=True), Merchant("National Express", "4131"))),
    SpendCategory("eating out", (1, 4), (14_00, 88_00), (
        Merchant("Nando's", "5812"), Merchant("Wagamama", "5812"),
        Merchant("Pizza Express", "5812"),
        Merchant("Deliveroo", "5812", online=True), Merchant("Just Eat", "5812", online=True),
        Merchant("JD Wetherspoon", "5813"), Merchant("The Red Lion", "5813"))),
    SpendCategory("shopping", (1, 3), (9_99, 160_00), (
        Merchant("Amazon.co.uk", "5999", online=True), Merchant("John Lewis", "5311"),
        Merchant("Argos", "5311"), Merchant("Primark", "5651"), Merchant("Next", "5651"),
        Merchant("ASOS", "5651", online=True), Merchant("Currys", "5732"),
        Merchant("IKEA", "5712"), Merchant("B&Q", "5200"), Merchant("Waterstones", "5942"))),
    SpendCategory("fuel", (0, 2), (38_00, 86_00), (
        Merchant("Shell", "5541"), Merchant("BP", "5541"), Merchant("Esso", "5541"),
        Merchant("Tesco Petrol", "5542"))),
    SpendCategory("health and beauty", (0, 2), (3_50, 32_00), (
        Merchant("Boots", "5912"), Merchant("Superdrug", "5912"))),
    SpendCategory("travel", (0, 1), (45_00, 620_00), (
        Merchant("easyJet", "4511", online=True), Merchant("Ryanair", "4511", online=True),
        Merchant("Jet2.com", "4511", online=True), Merchant("Booking.com", "4722", online=True),
        Merchant("Airbnb", "7011", online=True), Merchant("Premier Inn", "7011"))),
    SpendCategory("leisure", (0, 1), (8_50, 45_00), (
        Merchant("Odeon Cinemas", "7832"), Merchant("Vue Cinemas", "7832"),
        Merchant("Ticketmaster UK", "7922", online=True))),
)
SUBSCRIPTIONS = (  # monthly card payments: merchant, price
    (Merchant("Netflix", "4899", online=True), 10_99),
    (Merchant("Spotify", "5815", online=True), 11_99),
    (Merchant("Amazon Prime", "5968", online=True), 8_99),
    (Merchant("Disney+", "4899", online=True), 7_99),
    (Merchant("PureGym", "7997", online=True), 24_99),
    (Merchant("Apple.com/bill", "5818", online=True), 2_99),
)
BUSINESS_SPENDING = (
    SpendCategory("supplies", (1, 5), (6_50, 240_00), (
        Merchant("Screwfix", "5200"), Merchant("Toolstation", "5200"), Merchant("Staples", "5111"),
        Merchant("Amazon Business", "5999", online=True),
        Merchant("Viking Direct", "5111", online=True))),
    SpendCategory("travel", (0, 3), (18_00, 145_00), (
        Merchant("Trainline", "4112", online=True), Merchant("Premier Inn", "7011"),
        Merchant("Travelodge", "7011"), Merchant("Shell", "5541"), Merchant("BP", "5541"))),
    SpendCategory("software", (1, 2), (9_99, 58_00), (
        Merchant("Adobe", "5818", online=True), Merchant("Microsoft 365", "5734", online=True),
        Merchant("Google Workspace", "7372", online=True), Merchant("Xero", "7372", online=True))),
    SpendCategory("postage", (0, 2), (2_10, 36_00), (Merchant("Royal Mail", "9402"),)),
)
ATM_NAMES = ("LINK ATM", "Cash Machine", "Notemachine")

# Direct debit originators: (kind, names, pence range).
ENERGY = ("Octopus Energy", "British Gas", "EDF Energy", "E.ON Next", "OVO Energy")
WATER = ("Thames Water", "Severn Trent Water", "United Utilities", "Anglian Water",
         "Yorkshire Water")
MOBILE = ("EE", "Vodafone", "O2", "Three")
BROADBAND = ("BT", "Sky Broadband", "Virgin Media", "TalkTalk", "Plusnet")
INSURERS = ("Aviva", "Direct Line", "Admiral", "LV=")
MEMBERSHIPS = ("The Gym Group", "David Lloyd Clubs", "National Trust", "RSPB")
MORTGAGE_LENDERS = ("Nationwide Building Society", "Halifax", "Santander UK", "Barclays Mortgages")
TV_LICENCE_PENCE = 14_54
