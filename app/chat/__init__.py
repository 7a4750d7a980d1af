"""Answers from chat: Approve / Reject buttons on approval requests (Slack, Mattermost)."""
