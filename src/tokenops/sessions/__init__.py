"""Agent sessions: transcripts archived as they go, when the tenant's content policy allows it."""

from tokenops.sessions.archive import SQLiteTranscripts, Transcript, TranscriptStore

__all__ = ["SQLiteTranscripts", "Transcript", "TranscriptStore"]
