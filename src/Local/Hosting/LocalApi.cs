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
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>Starts the API on <paramref name="url"/>; dispose the result to stop it.</summary>
    public static async Task<WebApplication> StartAsync(LocalEndpoints endpoints, ProvisionedResources stack, string url, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(ApiHosting).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(Settings(endpoints, stack));
        builder.WebHost.UseUrls(url);
        builder.AddPipelineApi();
        var app = builder.Build();
        app.UsePipelineApi();
        await app.StartAsync(cancellationToken);
        return app;
    }

    /// <summary>The settings the template gives the Api function, with the local endpoints.</summary>
    public static Dictionary<string, string?> Settings(LocalEndpoints endpoints, ProvisionedResources stack) => new()
    {
        ["Queue:Url"] = stack.Resources["EventsQueue"].Ref,
        ["ApiKeys:TableName"] = stack["ApiKeysTable"],
        ["AWS:Region"] = endpoints.Region,
        ["AWS:SQS:ServiceURL"] = endpoints.Fauxqs.ToString(),
        ["AWS:DynamoDB:ServiceURL"] = endpoints.DynamoDb.ToString(),
    };
}
