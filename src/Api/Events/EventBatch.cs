using System.Text.Json;

namespace Pipeline.Api.Events;

/// <summary>A batch of events.</summary>
public sealed record EventBatch
{
    /// <summary>The events, in order.</summary>
    public IReadOnlyList<IncomingEvent?>? Events { get; init; }
}
