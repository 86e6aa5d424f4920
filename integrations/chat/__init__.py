"""Chat robots (WeCom, DingTalk) behind one interface: `chat_send(RobotConfig(...), ...)`."""

from .base import ChatError, ChatGiveUp, ChatRetryLater, RobotConfig, chat_send

__all__ = ["ChatError", "ChatGiveUp", "ChatRetryLater", "RobotConfig", "chat_send"]
