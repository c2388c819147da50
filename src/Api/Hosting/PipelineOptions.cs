using System.ComponentModel.DataAnnotations;

namespace Pipeline.Api.Hosting;

/// <summary>The queue events go to. Environment: <c>Queue__Url</c>.</summary>
public sealed class QueueOptions
{
    /// <summary>The events queue's URL (the template's EventsQueue).</summary>
    [Required(ErrorMessage = "Queue:Url (environment Queue__Url) is required: the URL of the events queue.")]
    public string Url { get; set; } = "";
}

/// <summary>Where API keys are checked. Environment: <c>ApiKeys__TableName</c>, <c>ApiKeys__CacheSeconds</c>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>The API-keys table (the template's ApiKeysTable).</summary>
    [Required(ErrorMessage = "ApiKeys:TableName (environment ApiKeys__TableName) is required: the API-keys table.")]
    public string TableName { get; set; } = "";

    /// <summary>How long a key lookup is cached; a revoked key keeps working at most this long.</summary>
    [Range(0, 3600)]
    public int CacheSeconds { get; set; } = 30;
}

/// <summary>The limits every event and batch must respect; documented in the OpenAPI description.</summary>
public sealed class EventLimits
{
    /// <summary>Largest event, in bytes of JSON (the body of POST /events, or one item of a batch).</summary>
    [Range(1024, 262144)]
    public int MaxEventBytes { get; set; } = 32 * 1024;

    /// <summary>Largest body of POST /events/batch, in bytes.</summary>
    [Range(1024, 6 * 1024 * 1024)]
    public int MaxBatchBytes { get; set; } = 512 * 1024;

    /// <summary>Most events in one batch.</summary>
    [Range(1, 1000)]
    public int MaxBatchEvents { get; set; } = 100;

    /// <summary>Deepest nesting of <c>properties</c> (an object of scalars has depth 1).</summary>
    [Range(1, 32)]
    public int MaxPropertiesDepth { get; set; } = 8;

    /// <summary>Oldest accepted <c>occurredAt</c>, back from now.</summary>
    public TimeSpan MaxEventAge { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How far in the future <c>occurredAt</c> may be (client clock skew).</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>Which proxies may set X-Forwarded-For (on Lambda: the Web Adapter on loopback).</summary>
public sealed class ProxyOptions
{
    /// <summary>CIDR networks whose X-Forwarded-For is trusted; empty trusts none.</summary>
    public IList<string> TrustedNetworks { get; } = [];
}

/// <summary>Browsers' access to the Segment-compatible endpoints. Environment: <c>Tracking__AllowedOrigins</c>.</summary>
public sealed class TrackingOptions
{
    /// <summary>
    /// Comma-separated origins (<c>https://shop.example.com</c>) whose pages may send events with analytics.js;
    /// <c>*</c> for any page, empty for none. Only the /v1 endpoints answer browsers; /events never does.
    /// </summary>
    public string AllowedOrigins { get; set; } = "*";

    /// <summary>The origins, one per entry.</summary>
    public IReadOnlyList<string> Origins() =>
        AllowedOrigins.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
