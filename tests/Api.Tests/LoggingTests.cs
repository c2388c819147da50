using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pipeline.Api.Tests;

public sealed class LoggingTests
{
    [Fact]
    public async Task Logs_carry_the_request_id_and_never_a_key_or_a_body()
    {
        var logs = new CollectingLogger();
        // An unreachable queue makes the API log errors for the request.
        await using var app = await ApiApplication.StartAsync(
            s => s["AWS:SQS:ServiceURL"] = "http://127.0.0.1:9/",
            s => s.AddSingleton<ILoggerProvider>(logs));
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync(
            "/events", new StringContent("""{ "eventType": "a", "userId": "user-secret-42", "properties": { "card": "4111-1111" } }""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var requestId = response.Headers.GetValues("X-Request-Id").Single();
        var lines = logs.Lines.ToList();
        Assert.Contains(lines, l => l.Contains("Could not enqueue", StringComparison.Ordinal) && l.Contains(requestId, StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(app.ApiKey, StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("user-secret-42", StringComparison.Ordinal) || l.Contains("4111-1111", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_error_is_answered_with_its_reason_and_logged_as_no_error()
    {
        var logs = new CollectingLogger();
        await using var app = await ApiApplication.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events", new StringContent("{ 'not': json }", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not a valid event document", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal));
    }

    private sealed class CollectingLogger : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        private readonly AsyncLocal<List<object>> _scopes = new();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable BeginScope<TState>(TState state)
            where TState : notnull
        {
            (_scopes.Value ??= []).Add(state);
            return new Scope(_scopes.Value, state);
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = string.Join(" ", (_scopes.Value ?? []).Select(s =>
                s is IEnumerable<KeyValuePair<string, object>> pairs ? string.Join(",", pairs.Select(p => $"{p.Key}={p.Value}")) : s.ToString()));
            Lines.Enqueue($"{logLevel}: {formatter(state, exception)} {exception} [{scopes}]");
        }

        public void Dispose()
        {
        }

        private sealed class Scope(List<object> scopes, object state) : IDisposable
        {
            public void Dispose() => scopes.Remove(state);
        }
    }
}
