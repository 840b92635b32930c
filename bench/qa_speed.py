"""Time the Q&A engine on synthetic articles: index build, answer latency p50/p99, peak memory.

Usage: python bench/qa_speed.py [--articles 10000] [--questions 2000] [--seed 7]
                                [--no-embeddings]
Targets (issue 12): load-and-index 10,000 articles <= 5 s; index memory <= 20 KB per article;
answer p99 <= 5 ms. Articles are tagged and embedded on their first question or ahead of it by
QAIndex.warm (the bot warms the newest 500 in a background thread), so the figures are given
cold (first question of an article) and prepared (articles warmed first, every question new).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import time

from briefbot.articles import Article
from briefbot.qa import QAIndex, embed

FIRST = ("Amara Boris Celine Dmitri Elena Farid Greta Hiro Ines Jonas Kofi Lena Mateo Nadia Omar "
         "Priya Quentin Rosa Sven Tariq Ursula Viktor Wanda Yusuf Zara").split()
LAST = ("Abara Brandt Castell Dvorak Eriksen Fontaine Garrido Halvorsen Ivanova Jansen Kowalski "
        "Lindgren Moreau Nakamura Okafor Petrov Quist Rinaldi Sato Tanaka Ulloa Varga Weber "
        "Xu Yilmaz Zeller").split()
PLACES = ("Lisbon Oslo Nairobi Lima Hanoi Quito Tallinn Dakar Riga Accra Zagreb Sofia Tunis "
          "Helsinki Manila Vienna Athens Prague Warsaw Dublin").split()
ORGS = ("Harbour Transit Authority", "Northern Space Agency", "Central Bank of Valdora",
        "Riverside United", "National Health Council", "Coastal Energy Board")
TOPICS = ("rail line", "wind farm", "school budget", "trade deal", "stadium plan", "water reform",
          "tax rebate", "port expansion", "bridge repair", "vaccine drive", "data law", "bus fare")
VERBS = ("approved", "rejected", "announced", "delayed", "expanded", "suspended", "funded")
NOUNS = ("officials", "residents", "engineers", "teachers", "farmers", "drivers", "nurses")
RARE = [f"{a}{b}" for a in ("zor", "quel", "brim", "tash", "vol", "mira", "kest", "dun")
        for b in ("ane", "ite", "ova", "umb", "ex", "ari", "olt", "ing")]


def make_article(n: int, rng: random.Random) -> Article:
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    other = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    place = rng.choice(PLACES)
    org = rng.choice(ORGS)
    topic = rng.choice(TOPICS)
    verb = rng.choice(VERBS)
    noun = rng.choice(NOUNS)
    rare = rng.choice(RARE) + str(n % 97)
    money = rng.randint(2, 900)
    count = rng.randint(100, 9000)
    day = dt.date(2026, 1, 1) + dt.timedelta(days=n % 300)
    paragraphs = (
        f"The {org} {verb} the {topic} in {place} on {day:%A}, after months of talks over the "
        f"{rare} project 📰.",
        f"Director {person} said the plan would cost {money} million euros and help about "
        f"{count:,} {noun}, because demand has grown every year since {2010 + n % 15}.",
        f"\u201cWe cannot wait any longer,\u201d {person.split()[1]} told reporters outside the "
        f"city hall. Critics led by {other}, the opposition spokesperson, called it rushed.",
        f"A final vote is due on {day + dt.timedelta(days=30):%B %d}. Turnout at the hearing was "
        f"{rng.randint(10, 90)} percent, and {rng.randint(2, 12)} councillors abstained.",
    )
    return Article(
        id=f"a{n:05d}", title=f"{org} {verb} {topic} in {place}", author=rng.choice(LAST),
        date=day, paragraphs=paragraphs, digest=f"d{n}",
    )


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-embeddings", action="store_true",
                        help="lexical stages only, as without the embedding packages")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.no_embeddings:
        os.environ["BRIEFBOT_EMBEDDINGS"] = "off"
    print(f"embeddings:               {'off' if embed.get_embedder() is None else 'on'}")

    started = time.perf_counter()
    articles = [make_article(n, rng) for n in range(args.articles)]
    built = time.perf_counter()
    before = _resident_mb()
    index = QAIndex()
    index.update(articles)
    indexed = time.perf_counter()
    index_kb = (_resident_mb() - before) * 1024 / args.articles
    index.update(articles)  # unchanged: every table must come from the cache
    reindexed = time.perf_counter()
    print(f"articles:                 {args.articles:,}")
    print(f"make Article objects:     {built - started:6.2f} s (includes sentence splitting)")
    print(f"index (QAIndex.update):   {indexed - built:6.2f} s")
    print(f"load-and-index total:     {indexed - started:6.2f} s   (target <= 5 s)")
    print(f"index memory:             {index_kb:6.1f} KB per article (resident growth)")
    print(f"re-update, nothing new:   {reindexed - indexed:6.2f} s")

    templates = [
        ("pinned", lambda a: (f"who is {a.title.split()[0]} director", a.id, None)),
        ("pinned", lambda a: ("how much will it cost?", a.id, None)),
        ("pinned", lambda a: ("wen is the final vote", a.id, None)),
        ("pinned", lambda a: ("how many people will it help", a.id, None)),
        ("pinned", lambda a: ("who is the prime minister?", a.id, None)),
        ("last", lambda a: ("where was it approved?", None, a.id)),
        ("last", lambda a: ("what did they say? 🗣️", None, a.id)),
        ("routed", lambda a: (f"what is the {a.paragraphs[0].split(' project')[0].split()[-1]} "
                              "project about", None, None)),
        ("routed", lambda a: (f"wen did the {a.title.split(' in ')[0].split()[-1]} in "
                              f"{a.title.split()[-1]} happen", None, None)),
        ("routed", lambda a: ("<b>hostile</b> \x00\x07" + "x" * 10_000, None, None)),
    ]
    timings: dict[str, list[float]] = {"pinned": [], "last": [], "routed": []}
    for _ in range(args.questions):
        article = rng.choice(articles)
        mode, make = rng.choice(templates)
        question, article_id, last = make(article)
        t0 = time.perf_counter()
        index.ask(question, article_id=article_id, last_briefed=last)
        timings[mode].append((time.perf_counter() - t0) * 1000)
    everything = [t for values in timings.values() for t in values]
    print(f"\nquestions:                {len(everything):,} (first ask of each article included)")
    for mode, values in [*timings.items(), ("all", everything)]:
        if values:
            print(f"  {mode:<8} n={len(values):<5} p50 {statistics.median(values):6.2f} ms   "
                  f"p99 {percentile(values, 0.99):6.2f} ms   max {max(values):6.2f} ms")
    newest = sorted(articles, key=lambda a: a.date or dt.date.min, reverse=True)[:500]
    t0 = time.perf_counter()
    prepared = index.warm(500)
    print(f"\nwarm {prepared} newest articles: {time.perf_counter() - t0:6.2f} s (background)")
    warm: list[float] = []
    for n in range(args.questions):
        article = rng.choice(newest)
        _, make = rng.choice(templates[:7])
        question, article_id, last = make(article)
        question = f"{question} #{n}"  # every question new: no cached question vector
        t0 = time.perf_counter()
        index.ask(question, article_id=article_id, last_briefed=last)
        warm.append((time.perf_counter() - t0) * 1000)
    print(f"  prepared n={len(warm):<5} p50 {statistics.median(warm):6.2f} ms   "
          f"p99 {percentile(warm, 0.99):6.2f} ms   (pinned or last-briefed, warmed articles)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (max RSS):    {peak:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
