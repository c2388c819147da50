using System.Text.Json;

namespace Pipeline.Api.Events;

/// <summary>The answer to an accepted event.</summary>
/// <param name="EventId">The id the event is stored under.</param>
public sealed record AcceptedEvent(string EventId);
