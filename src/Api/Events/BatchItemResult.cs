using System.Text.Json;

namespace Pipeline.Api.Events;

/// <summary>The outcome of one item of a batch.</summary>
/// <param name="Index">The item's position in the batch.</param>
/// <param name="Status"><c>accepted</c>, <c>invalid</c> (see errors) or <c>unavailable</c> (the queue failed; retry it).</param>
/// <param name="EventId">The id, when the item is valid.</param>
/// <param name="Errors">Field errors, when the item is invalid.</param>
public sealed record BatchItemResult(int Index, string Status, string? EventId, IDictionary<string, string[]>? Errors);
