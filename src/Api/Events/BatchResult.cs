using System.Text.Json;

namespace Pipeline.Api.Events;

/// <summary>The answer to a batch: one result per item, in order.</summary>
/// <param name="Accepted">How many items were accepted.</param>
/// <param name="Rejected">How many items were invalid.</param>
/// <param name="Unavailable">How many valid items the queue could not take (retry them).</param>
/// <param name="Items">The items' results, in order.</param>
public sealed record BatchResult(int Accepted, int Rejected, int Unavailable, IReadOnlyList<BatchItemResult> Items);
