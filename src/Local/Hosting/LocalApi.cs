using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Pipeline.Api.Hosting;
using Pipeline.Local.Environment;
using Pipeline.Local.Provisioning;

namespace Pipeline.Local.Hosting;

/// <summary>The API on Kestrel, in this process, wired to the local stack: what the Web Adapter runs on Lambda.</summary>
public static class LocalApi
{
    /// <summary>The API's local address (the README's contract).</summary>
    public static readonly string DefaultUrl = LocalEndpoints.Api.ToString().TrimEnd('/');

    /// <summary>Starts the API on <paramref name="url"/>; dispose the result to stop it.</summary>
    /// <param name="endpoints">The emulators.</param>
    /// <param name="stack">The provisioned stack.</param>
    /// <param name="url">Where Kestrel listens.</param>
    /// <param name="cancellationToken">Stops the start.</param>
    /// <param name="services">Changes to the services after the API's own registration (tests record the SDK calls with it).</param>
    public static async Task<WebApplication> StartAsync(LocalEndpoints endpoints, ProvisionedResources stack, string url, CancellationToken cancellationToken,
        Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(ApiHosting).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(Settings(endpoints, stack));
        // At a terminal, the API's start-up chatter would bury the summary `up` prints; warnings and errors still show.
        builder.Configuration["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning";
        builder.WebHost.UseUrls(url);
        builder.AddPipelineApi();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.UsePipelineApi();
        await app.StartAsync(cancellationToken);
        return app;
    }

    /// <summary>The function's logical id in serverless.template.</summary>
    public const string LogicalId = "ApiFunction";

    /// <summary>The environment the template gives the Api function (resolved locally, as configuration keys), with the local endpoints.</summary>
    public static Dictionary<string, string?> Settings(LocalEndpoints endpoints, ProvisionedResources stack)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(stack);
        var settings = stack.FunctionEnvironment(LogicalId).ToDictionary(v => v.Key.Replace("__", ":", StringComparison.Ordinal), v => (string?)v.Value);
        settings["AWS:Region"] = endpoints.Region;
        settings["AWS:SQS:ServiceURL"] = endpoints.Fauxqs.ToString();
        settings["AWS:DynamoDB:ServiceURL"] = endpoints.DynamoDb.ToString();
        return settings;
    }
}
