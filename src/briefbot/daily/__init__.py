"""Daily briefings: when each is due (`schedule`, pure), the chat commands that set them
(`subscriptions`) and the one scheduler that sends them exactly once (`delivery`)."""
