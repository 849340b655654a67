"""The call's realtime channel: typed server events, the WebSocket, and the call monitor."""
