"""Agent sessions: transcripts archived as they go, when the tenant's content policy allows it."""

from tokenops.sessions.archive import PostgresTranscripts, SQLiteTranscripts, Transcript, TranscriptStore
from tokenops.sessions.regional import RegionalTranscripts

__all__ = ["PostgresTranscripts", "RegionalTranscripts", "SQLiteTranscripts", "Transcript", "TranscriptStore"]
