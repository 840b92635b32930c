"""Daily briefings: when each is due (`schedule`, pure), the chat commands that set them
(`subscriptions`), a briefing job and what each send outcome records (`jobs`), and the one
scheduler that sends each part exactly once (`delivery`)."""
