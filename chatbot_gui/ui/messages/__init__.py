"""The message list (issue 11): ``view.MessagesView`` shows a chat's messages by id; ``rows`` has the
delegate that renders, lays out and draws one message; ``demo`` shows a sample chat."""
