"""The Slack adapter: the Bolt app, its listeners and the HTTP / Socket Mode runners."""
