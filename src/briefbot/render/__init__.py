"""Replies -> platform messages: one neutral layout (layout.py), one dialect a platform, all pure.

A dialect module (telegram.py, discord.py, plain.py) knows its platform's markup, escaping and
limits; what a briefing, a digest, an answer or a notice shows, and in what order, is
layout.py's alone.
"""
