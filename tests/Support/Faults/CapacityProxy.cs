using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Pipeline.Tests;

/// <summary>
/// DynamoDB Local behind a table's provisioned write capacity: an HTTP proxy that lets through <see cref="WritesPerSecond"/>
/// writes a second (a token bucket holding at most <see cref="BurstSeconds"/> of them: DynamoDB keeps up to 300 s of unused
/// capacity, a table that spent it has none) and answers every other write as DynamoDB answers a write above a table's
/// capacity: HTTP 400, <c>ProvisionedThroughputExceededException</c>. A failed condition is a write too: DynamoDB charges
/// it, so it takes its token. One token a write request (a batch write: one a put); the tests' items are under 1 KB.
/// DynamoDB Local itself never throttles.
/// </summary>
public sealed class CapacityProxy : IAsyncDisposable
{
    /// <summary>DynamoDB's answer to a write beyond the capacity, as its API reference gives it.</summary>
    public const string ThrottledBody = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
        + "\"message\":\"The level of configured provisioned throughput for the table was exceeded.\"}";

    private static readonly string[] Writes = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

    private readonly WebApplication _app;
    private readonly HttpClient _client;
    private readonly Lock _bucket = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _tokens;
    private TimeSpan _filled;
    private long _admitted;
    private long _throttled;

    private double _writesPerSecond;

    private CapacityProxy(WebApplication app, HttpClient client, double writesPerSecond, double burstSeconds)
    {
        (_app, _client, _writesPerSecond, BurstSeconds) = (app, client, writesPerSecond, burstSeconds);
        _tokens = writesPerSecond * burstSeconds;
    }

    /// <summary>The proxy's address, for the clients' DynamoDB endpoint.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The provisioned write capacity: writes a second. Lowered, the bucket keeps no more than the new burst (0: none).</summary>
    public double WritesPerSecond
    {
        get
        {
            lock (_bucket)
            {
                return _writesPerSecond;
            }
        }
        set
        {
            lock (_bucket)
            {
                _writesPerSecond = value;
                _tokens = Math.Min(_tokens, value * BurstSeconds);
            }
        }
    }

    /// <summary>How many seconds of unused capacity the bucket keeps.</summary>
    public double BurstSeconds { get; }

    /// <summary>Writes let through to DynamoDB Local (stored, or failed on their condition).</summary>
    public long Admitted => Interlocked.Read(ref _admitted);

    /// <summary>Writes answered with <c>ProvisionedThroughputExceededException</c>.</summary>
    public long Throttled => Interlocked.Read(ref _throttled);

    /// <summary>Starts a proxy to DynamoDB Local at <paramref name="target"/> on a free loopback port.</summary>
    public static async Task<CapacityProxy> StartAsync(Uri target, double writesPerSecond, double burstSeconds = 1)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var client = new HttpClient(new SocketsHttpHandler { UseCookies = false, AutomaticDecompression = System.Net.DecompressionMethods.None })
        {
            BaseAddress = target,
        };
        var proxy = new CapacityProxy(app, client, writesPerSecond, burstSeconds);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        proxy.Address = new Uri(app.Urls.First() + "/");
        return proxy;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var target = context.Request.Headers["X-Amz-Target"].ToString();
        if (Writes.Any(w => target.EndsWith("." + w, StringComparison.Ordinal)) && !TakeToken())
        {
            Interlocked.Increment(ref _throttled);
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            context.Response.ContentType = "application/x-amz-json-1.0";
            await context.Response.WriteAsync(ThrottledBody, context.RequestAborted);
            return;
        }
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), context.Request.Path + context.Request.QueryString)
        {
            Content = new ByteArrayContent(body.ToArray()),
        };
        foreach (var (name, values) in context.Request.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                request.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
        using var response = await _client.SendAsync(request, context.RequestAborted);
        var answer = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }
        await context.Response.Body.WriteAsync(answer, context.RequestAborted);
    }

    private bool TakeToken()
    {
        lock (_bucket)
        {
            var now = _clock.Elapsed;
            _tokens = Math.Min(_writesPerSecond * BurstSeconds, _tokens + ((now - _filled).TotalSeconds * _writesPerSecond));
            _filled = now;
            if (_tokens < 1)
            {
                return false;
            }
            _tokens--;
            Interlocked.Increment(ref _admitted);
            return true;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _client.Dispose();
    }
}
