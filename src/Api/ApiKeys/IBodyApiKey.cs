namespace Pipeline.Api.ApiKeys;

/// <summary>A request whose body may carry the API key (Segment's <c>writeKey</c> field), for <see cref="ApiKeyFilter"/>.</summary>
public interface IBodyApiKey
{
    /// <summary>The key the body carries, if any.</summary>
    string? WriteKey { get; }
}
