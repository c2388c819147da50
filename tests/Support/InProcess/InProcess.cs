using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Aggregator;
using Pipeline.Api.Hosting;
using Pipeline.Lambda;
using Pipeline.Local;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Local.Lambda;
using Pipeline.Local.Schedule;
using Pipeline.Processor;

namespace Pipeline.Tests;

/// <summary>
/// The Api's and the functions' code in this process, wired to a local stack, for tests of their logic and for the benchmarks:
/// what the local environment (src/Local) runs as processes, without the processes (docs/architecture.md, D8).
/// </summary>
public static class InProcess
{
    /// <summary>Starts the API on Kestrel in this process, listening on <paramref name="url"/>; dispose the result to stop it.</summary>
    /// <param name="endpoints">The emulators.</param>
    /// <param name="stack">The provisioned stack.</param>
    /// <param name="url">Where Kestrel listens.</param>
    /// <param name="cancellationToken">Stops the start.</param>
    /// <param name="services">Changes to the services after the API's own registration (tests record the SDK calls with it).</param>
    public static async Task<WebApplication> StartApiAsync(LocalEndpoints endpoints, ProvisionedResources stack, string url, CancellationToken cancellationToken,
        Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(ApiHosting).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(LocalApi.Settings(endpoints, stack));
        builder.Configuration["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning";
        builder.WebHost.UseUrls(url);
        builder.AddPipelineApi();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.UsePipelineApi();
        await app.StartAsync(cancellationToken);
        return app;
    }

    /// <summary>
    /// For a test that sets a plan and expects it applied from the first request (pass as <c>services</c>): a new host's
    /// first read of the plan may outlast the default wait (1.5 s) on a loaded machine, and the event would go unchecked.
    /// </summary>
    public static void PatientPlanReads(IServiceCollection services) =>
        services.Configure<global::Pipeline.Api.Hosting.PlanOptions>(o => o.ReadWaitMilliseconds = 10_000);

    /// <summary>The Processor's settings: the environment the template gives the function, resolved locally.</summary>
    public static ProcessorOptions ProcessorOptions(ProvisionedResources stack)
    {
        ArgumentNullException.ThrowIfNull(stack);
        var environment = stack.FunctionEnvironment(LocalProcessor.LogicalId);
        return global::Pipeline.Processor.ProcessorOptions.FromEnvironment(name => environment.GetValueOrDefault(name));
    }

    /// <summary>The Processor's code in this process, on the local stack's clients.</summary>
    public static ProcessorFunction Processor(LocalAws aws, ProvisionedResources stack, FunctionLog log)
    {
        ArgumentNullException.ThrowIfNull(aws);
        return new(ProcessorOptions(stack), aws.DynamoDb, aws.S3, aws.Sqs, TimeProvider.System, log);
    }

    /// <summary>The Aggregator's settings: the template's environment for the function, resolved locally, with the local window and settle time.</summary>
    public static AggregatorOptions AggregatorOptions(ProvisionedResources stack, TimeSpan window)
    {
        ArgumentNullException.ThrowIfNull(stack);
        var environment = stack.FunctionEnvironment(LocalAggregator.LogicalId);
        return global::Pipeline.Aggregator.AggregatorOptions.FromEnvironment(name => environment.GetValueOrDefault(name)) with { Window = window, Settle = LocalAggregator.Settle };
    }

    /// <summary>The Aggregator's code in this process, on the local stack's clients.</summary>
    public static AggregatorFunction Aggregator(LocalAws aws, AggregatorOptions options, TimeProvider clock, FunctionLog log)
    {
        ArgumentNullException.ThrowIfNull(aws);
        return new AggregatorFunction(options, aws.DynamoDb, aws.S3, aws.Sqs, aws.Sns, clock, log);
    }
}
