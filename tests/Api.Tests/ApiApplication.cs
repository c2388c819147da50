using Amazon.SQS.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Api.Hosting;
using Pipeline.ApiKeys;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.Lambda;
using Pipeline.Tests;

namespace Pipeline.Api.Tests;

/// <summary>
/// The API on the test server, wired to a freshly provisioned stack of its own in the local
/// emulators, with one registered API key. Each test creates its own (await using).
/// </summary>
public sealed class ApiApplication : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    /// <summary>Changes to the API's services, applied after its own registrations.</summary>
    public Action<IServiceCollection>? ExtraServices { get; init; }

    private ApiApplication(LocalAws aws, ProvisionedResources stack, string apiKey, Dictionary<string, string?> settings)
    {
        Aws = aws;
        Stack = stack;
        ApiKey = apiKey;
        _settings = settings;
    }

    public LocalAws Aws { get; }

    public ProvisionedResources Stack { get; }

    public string ApiKey { get; }

    public string QueueUrl => Stack.Resources["EventsQueue"].Ref;

    public ApiKeyRegistry Keys => new(Aws.DynamoDb, Stack["ApiKeysTable"]);

    public static async Task<ApiApplication> StartAsync(Action<Dictionary<string, string?>>? configure = null, Action<IServiceCollection>? services = null)
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("tests", CancellationToken.None);
        // What the template sets on the function, resolved against this stack, plus the local endpoints.
        var settings = LocalApi.Settings(aws.Endpoints, stack);
        settings["ApiKeys:CacheSeconds"] = "0";
        // Tests that set a plan expect it applied from their first request: a new host's first read of it (its DynamoDB
        // client, the plan's parse) may outlast the default wait (1.5 s) on a loaded machine, and the event would go unchecked.
        settings["Plans:ReadWaitMilliseconds"] = "10000";
        configure?.Invoke(settings);
        return new ApiApplication(aws, stack, key, settings) { ExtraServices = services };
    }

    public HttpClient CreateKeyedClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("x-api-key", ApiKey);
        return client;
    }

    /// <summary>Every event now on the queue, one JSON object each, out of single-event and batch messages alike (drains it).</summary>
    public async Task<List<System.Text.Json.Nodes.JsonObject>> DrainEventsAsync(int waitSeconds = 1) =>
        [.. (await DrainQueueAsync(waitSeconds)).SelectMany(m =>
            System.Text.Json.Nodes.JsonNode.Parse(m.Body)!.AsObject() is var body && body["events"] is System.Text.Json.Nodes.JsonArray events
                ? events.Select(e => e!.AsObject())
                : [body])];

    /// <summary>Every message now on the queue (drains it).</summary>
    public async Task<List<Message>> DrainQueueAsync(int waitSeconds = 1)
    {
        var messages = new List<Message>();
        while (true)
        {
            var page = await Aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest
            {
                QueueUrl = QueueUrl,
                MaxNumberOfMessages = 10,
                WaitTimeSeconds = waitSeconds,
                MessageAttributeNames = ["All"],
                MessageSystemAttributeNames = ["All"],
            });
            if (page.Messages is not { Count: > 0 })
            {
                return messages;
            }
            messages.AddRange(page.Messages);
        }
    }

    /// <summary>
    /// Builds the API as Program does, with this application's settings, and starts it on a test server. For starts that
    /// must fail: WebApplicationFactory reports those racily, since the entry point's failed start disposes the host the
    /// factory then reads, and the test sees an ObjectDisposedException instead of the start's own error.
    /// </summary>
    public async Task StartDirectlyAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Production",
            ApplicationName = typeof(ApiHosting).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(_settings);
        builder.WebHost.UseTestServer();
        builder.AddPipelineApi();
        await using var app = builder.Build();
        app.UsePipelineApi();
        await app.StartAsync();
        await app.StopAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production"); // as on Lambda
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureServices(s => s.AddSingleton<IStartupFilter, LoopbackConnection>());
        if (ExtraServices is { } services)
        {
            builder.ConfigureServices(services);
        }
    }

    // The test server leaves the connection's address empty; Kestrel behind the Lambda Web Adapter sees loopback.
    private sealed class LoopbackConnection : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                context.Connection.RemoteIpAddress ??= System.Net.IPAddress.Loopback;
                return nextMiddleware(context);
            });
            next(app);
        };
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Aws.Dispose();
    }
}
