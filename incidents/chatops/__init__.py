"""Chat-ops: declare and run incidents from Slack, Mattermost and Microsoft Teams.

Every request is verified (verify.py) before anything is parsed; commands are parsed and carried
out by one platform-neutral dispatcher (commands.py) that calls the same services as the web UI;
each platform's endpoint turns the neutral Reply into its own response format (views.py).
"""
