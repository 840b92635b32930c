"""Words for Q&A: normalising, index terms (lemma, stem), word lists, synonyms, antonyms."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from functools import lru_cache
from importlib import resources

import snowballstemmer
from rapidfuzz.distance import OSA


def _data_lines(name: str) -> list[str]:
    """The non-comment lines of a word list shipped in briefbot/data."""
    text = resources.files("briefbot").joinpath("data", name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Lower-case `word` without accents, so "Brandão" and "brandao" match."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000",
}  # fmt: skip


def _load_lemmas() -> dict[str, str]:
    """Irregular verb form -> base form ("paid" -> "pay"), which stemming alone cannot see."""
    lemmas: dict[str, str] = {}
    for line in _data_lines("irregular_verbs.txt"):
        base, *forms = (w.strip() for w in line.split(","))
        for form in forms:
            lemmas.setdefault(form, base)
    return lemmas


_LEMMAS = _load_lemmas()


@lru_cache(maxsize=200_000)
def _term(word: str) -> str:
    """The index term of a normalised word: its stem (of the lemma), or the digits of a number."""
    if word[:1].isdigit():
        return word
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    return str(_STEMMER.stemWord(_LEMMAS.get(word, word)))


_TOKEN = re.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:[.,:]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*")


@lru_cache(maxsize=200_000)
def _norm(raw: str) -> str:
    """A token as matched: folded, possessive dropped, "U.S." -> "us", "6,200" -> "6200"."""
    word = fold(raw.replace("’", "'"))
    if word[:1].isdigit():
        return word.replace(",", "")
    if "." in word:
        word = word.replace(".", "")
    if word.endswith("'s"):
        word = word[:-2]
    elif word.endswith("'"):
        word = word[:-1]
    return word


def _words(text: str) -> list[str]:
    """The normalised words of a text."""
    return [_norm(m.group()) for m in _TOKEN.finditer(text)]


_STOPWORDS = frozenset(
    """
    a an the and or but if of to in on at by for with from into onto about above below over under
    after before between through during without within along across around against among up down
    out off then than so such too very just also only even still yet again ever never not no nor
    is am are was were be been being do does did done doing have has had having will would shall
    should can could may might must i me my mine we our ours you your yours he him his she her hers
    it its they them their theirs this that these those there here who whom whose which what when
    where why how all any both each few more most other some own same another much many lot lots
    as because while until since though although whether via per let get got gets getting go goes
    going went gone make makes made take takes took taken s t don didn isn wasn aren weren doesn
    hasn haven won wouldn couldn shouldn ok okay please hey hi hello tell me know come comes came
    coming
    """.split()
)
# Words that frame a question rather than name what it is about; they never count as missing.
_LIGHT = frozenset(
    """
    say said says saying think thinks thought happen happened happens happening occur occurred
    want wants wanted need needs needed like really actually exactly right now currently else
    besides anything something thing things stuff kind sort way ways name named called call
    article story piece report news problem problems issue issues info information detail details
    big main key important exact approximately roughly held hold place took
    region country city place town venue location area person man woman guy someone anyone
    day date time year month week moment amount number total figure overall count
    reason reasons cause causes caused lead led result why purpose point
    see seen view describe described react reacted respond responded feel feels
    mean means meant supposed expect expected there long soon far new latest recent current
    definitely certainly truly necessarily
    """.split()
)
_HOWMUCH_LIGHT = frozenset(
    "cost costs costing price priced worth spend spent pay paid big large tall high deep wide fast "
    "old".split()
)

_TITLES = {
    "gen": "general", "dr": "doctor", "prof": "professor", "gov": "governor", "sen": "senator",
    "rep": "representative", "lt": "lieutenant", "col": "colonel", "capt": "captain",
    "maj": "major", "sgt": "sergeant", "adm": "admiral", "mr": "", "mrs": "", "ms": "",
    "rev": "reverend", "supt": "superintendent", "insp": "inspector",
}  # fmt: skip
_TITLE_WORDS = frozenset(
    """
    general doctor professor governor senator representative lieutenant colonel captain major
    sergeant admiral reverend superintendent inspector president mayor minister chancellor king
    queen prince princess pope judge justice chief manager coach deputy director secretary
    ambassador commissioner sheriff officer chairman chairwoman chair sir dame lord lady prime
    vice premier speaker commander marshal bishop archbishop rabbi imam father sister brother
    councillor councilor alderman detective constable
    """.split()
)
_ROLE_NOUNS = _TITLE_WORDS | frozenset(
    """
    leader boss head striker midfielder defender goalkeeper forward player investigator executive
    ceo cfo founder owner agent mediator scientist author reporter winner spokesperson spokesman
    spokeswoman official member lawyer attorney candidate chairperson editor analyst economist
    researcher engineer pilot driver nurse teacher student victim suspect witness actor singer
    writer artist athlete rider champion referee umpire negotiator envoy diplomat curator
    designer architect chef principal headteacher headmaster dean rector provost treasurer
    spokesperson founder cofounder chairperson prosecutor inspector detective firefighter
    """.split()
)
_ORG_WORDS = frozenset(
    """
    agency authority bank board command committee council union workers local chamber club company
    corp corporation inc ltd llc plc group ministry department office party parliament congress
    senate court university college school hospital institute association federation league
    united athletic fc mutual trust fund times news police army navy force forces commission
    service services network foundation society holdings partners airlines airways motors press
    organisation organization alliance coalition assembly cabinet government administration
    bureau center centre laboratory lab labs systems technologies group industries rovers wanderers
    city ferries marine shipping energy foods media pharma telecom logistics capital ventures
    studios records games entertainment solutions international global airline railways rail
    motors steel mining oil gas petroleum insurance securities investments bancorp brewery
    """.split()
)
# "the shipyard Kessel Marine": a common noun naming what kind of organisation follows
_ORG_NOUNS = frozenset(
    """
    company firm shipyard club group maker retailer carrier operator bank lender insurer startup
    developer publisher broadcaster airline team union charity agency supplier manufacturer
    giant rival chain newspaper broker regulator
    """.split()
)
_PLACE_SUFFIXES = frozenset(
    """
    street st road avenue ave square bridge park stadium airport station harbour harbor river lake
    mountain mountains island islands valley county province district hall yard depot depots way
    lane boulevard quay pier beach coast bay gulf sea ocean desert forest arena plaza circus
    heights hill hills gardens terrace wharf docks port canal tower palace castle cathedral
    tunnel crossing
    """.split()
)
_PLACE_PREFIXES = frozenset("port mount lake fort saint san santa cape point".split())
_PLACE_ACRONYMS = frozenset("us usa uk uae eu".split())
_PLACE_PREPOSITIONS = frozenset("in at from outside near across inside into toward towards".split())
_NAME_CONNECTORS = frozenset("of de van der da del la le von al bin du dos das y".split())
_ANAPHORS = frozenset("this these that those it they he she its their his her such".split())
_SPEECH = frozenset(
    """
    said says told tells called added emphasized emphasised stressed warned argued admitted
    insisted noted described announced declared urged claimed explained wrote asked replied
    """.split()
)

_PLACES = frozenset(fold(line) for line in _data_lines("places.txt"))


def _load_synonyms() -> tuple[dict[str, frozenset[str]], dict[tuple[str, str], frozenset[str]]]:
    """Term -> group ids, and two-word phrase (as terms) -> group ids."""
    single: dict[str, set[str]] = defaultdict(set)
    double: dict[tuple[str, str], set[str]] = defaultdict(set)
    for number, line in enumerate(_data_lines("synonyms.txt")):
        group = f"~{number}"
        for entry in line.split(","):
            parts = [_term(w) for w in _words(entry)]
            if len(parts) == 1:
                single[parts[0]].add(group)
            elif len(parts) == 2:
                double[(parts[0], parts[1])].add(group)
    return (
        {k: frozenset(v) for k, v in single.items()},
        {k: frozenset(v) for k, v in double.items()},
    )


_SYNONYMS, _PHRASES = _load_synonyms()


def _load_antonyms() -> dict[str, frozenset[str]]:
    """Term -> the terms meaning its opposite, from the pairs in antonyms.txt."""
    pairs: dict[str, set[str]] = defaultdict(set)
    for line in _data_lines("antonyms.txt"):
        a, b = (_term(w.strip()) for w in line.split(","))
        pairs[a].add(b)
        pairs[b].add(a)
    return {k: frozenset(v) for k, v in pairs.items()}


_ANTONYMS = _load_antonyms()
_LEXICON = tuple(sorted({w for line in _data_lines("synonyms.txt") for entry in line.split(",")
                         for w in [entry.strip()] if " " not in w and len(w) >= 4}))

# Frame words a question may misspell but an article need not contain.
_FRAME_VOCAB = (
    "cause caused happened happen announced reason published written author where when what which "
    "who why how much many long said say issues problems article doing going"
).split()

_QUESTION_FIXES = {
    "wen": "when", "whn": "when", "wat": "what", "wht": "what", "whta": "what", "hw": "how",
    "r": "are", "u": "you", "ur": "your", "abt": "about", "bc": "because", "cuz": "because",
    "whens": "when is", "whats": "what is", "whos": "who is", "wheres": "where is",
    "hows": "how is", "whys": "why is", "y": "why", "wer": "where", "whr": "where",
    "ppl": "people", "ppls": "people", "govt": "government", "gov't": "government",
    "yrs": "years", "yr": "year", "mins": "minutes", "hrs": "hours", "pls": "please",
    "plz": "please", "thx": "thanks", "w/": "with", "b4": "before", "2day": "today",
    "tmrw": "tomorrow", "tho": "though", "coz": "because", "cos": "because",
    "teh": "the", "hte": "the", "wut": "what", "wot": "what", "gonna": "going to",
    "wanna": "want to", "gotta": "got to", "didnt": "did not", "doesnt": "does not",
    "dont": "do not", "isnt": "is not", "wasnt": "was not", "arent": "are not", "cant": "can not",
    "wont": "will not", "thru": "through", "2nd": "second", "1st": "first", "3rd": "third",
    "ya": "you", "em": "them", "smth": "something", "sth": "something", "bday": "birthday",
}  # fmt: skip

# Chat filler that never names what a question is about ("lol", "rn", "tbh").
_CHAT_FILLER = frozenset(
    "lol lmao lmfao rofl omg omfg fr ngl tbh imo imho btw bruh bro fam pls plz please rn "
    "nah yeah yea yep ok okay k kk hmm hm um uh like literally basically exactly actually "
    "really even anyway anyways so just tho though ?? srsly seriously again".split()
)
# Words a chat puts before the question itself: "wait who's the cfo", "ok so when is it".
_LEAD_IN = frozenset("wait so ok okay hey yo um uh hmm and but also lol omg oh ah".split())

_WORD_CHARS = re.compile(r"[A-Za-z0-9\u00C0-\u024F]")


def _plausible_typo(word: str, candidate: str) -> bool:
    """Edit distance alone turns "comms" into "comes"; short words may only swap or drop."""
    distance = OSA.distance(word, candidate)
    if len(word) >= 7:
        return distance <= 2
    if distance != 1:
        return False
    if len(word) >= 5 and word[0] == candidate[0] and len(word) != len(candidate):
        return True
    return sorted(word) == sorted(candidate) or (
        len(word) != len(candidate) and word[0] == candidate[0]
    )


_ROLE_TERMS = frozenset(_term(w) for w in _ROLE_NOUNS)
_LEMMA_BASES = frozenset(_LEMMAS.values())


def _bag(words: list[str]) -> Counter[str]:
    """Terms of a word sequence, with the synonym groups and title expansions they stand for."""
    terms = [_term(w) for w in words]
    bag: Counter[str] = Counter(terms)
    for i, term in enumerate(terms):
        for group in _SYNONYMS.get(term, ()):
            bag[group] += 1
        if i + 1 < len(terms):
            for group in _PHRASES.get((term, terms[i + 1]), ()):
                bag[group] += 1
        expansion = _TITLES.get(words[i])
        if expansion:
            bag[_term(expansion)] += 1
    return bag


def _word_terms(word: str) -> list[str]:
    """A word's term and the synonym groups it belongs to."""
    term = _term(word)
    return [term, *_SYNONYMS.get(term, ())]
