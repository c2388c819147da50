using System.Net;
using Amazon.DynamoDBv2;
using Amazon.Extensions.NETCore.Setup;
using Amazon.SQS;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Pipeline.Api.ApiKeys;
using Pipeline.Api.Events;
using Pipeline.Api.Plans;
using Pipeline.Api.Segment;
using Pipeline.ApiKeys;
using Pipeline.Plans;

namespace Pipeline.Api.Hosting;

/// <summary>The API's services and request pipeline, shared by Program.cs, the local host and the tests.</summary>
public static class ApiHosting
{
    /// <summary>
    /// The configuration sections the API binds, and their options types: on Lambda each property is an environment
    /// variable <c>Section__Property</c> (see serverless.template).
    /// </summary>
    public static readonly IReadOnlyDictionary<Type, string> OptionSections = new Dictionary<Type, string>
    {
        [typeof(QueueOptions)] = "Queue",
        [typeof(ApiKeyOptions)] = "ApiKeys",
        [typeof(PlanOptions)] = "Plans",
        [typeof(EventLimits)] = "Limits",
        [typeof(ProxyOptions)] = "Proxy",
        [typeof(TrackingOptions)] = "Tracking",
    };

    /// <summary>Registers everything the API needs.</summary>
    public static WebApplicationBuilder AddPipelineApi(this WebApplicationBuilder builder)
    {
        // JSON lines on stdout, which CloudWatch reads (docs/architecture.md, D14). Bodies and keys are never logged.
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });

        var services = builder.Services;
        // Checked at start, by validators generated at build time (OptionsValidators.cs): no reflection on the first request.
        services.AddOptions<QueueOptions>().BindConfiguration(OptionSections[typeof(QueueOptions)]).ValidateOnStart();
        services.AddOptions<ApiKeyOptions>().BindConfiguration(OptionSections[typeof(ApiKeyOptions)]).ValidateOnStart();
        services.AddOptions<PlanOptions>().BindConfiguration(OptionSections[typeof(PlanOptions)]).ValidateOnStart();
        services.AddOptions<EventLimits>().BindConfiguration(OptionSections[typeof(EventLimits)]).ValidateOnStart();
        services.AddOptions<ProxyOptions>().BindConfiguration(OptionSections[typeof(ProxyOptions)]).ValidateOnStart();
        services.AddOptions<TrackingOptions>().BindConfiguration(OptionSections[typeof(TrackingOptions)]).ValidateOnStart();
        services.AddSingleton<IValidateOptions<QueueOptions>, QueueOptionsValidator>();
        services.AddSingleton<IValidateOptions<ApiKeyOptions>, ApiKeyOptionsValidator>();
        services.AddSingleton<IValidateOptions<PlanOptions>, PlanOptionsValidator>();
        services.AddSingleton<IValidateOptions<EventLimits>, EventLimitsValidator>();
        services.AddSingleton<IValidateOptions<ProxyOptions>, ProxyOptionsValidator>();
        services.AddSingleton<IValidateOptions<TrackingOptions>, TrackingOptionsValidator>();

        // The endpoint (local emulator or AWS) is configuration: AWS:SQS:ServiceURL, AWS:DynamoDB:ServiceURL.
        // Credentials come from the SDK's default chain only.
        services.AddSingleton(sp => ServiceOptions(sp.GetRequiredService<IConfiguration>(), "AWS:SQS").CreateServiceClient<IAmazonSQS>());
        services.AddSingleton(sp => ServiceOptions(sp.GetRequiredService<IConfiguration>(), "AWS:DynamoDB").CreateServiceClient<IAmazonDynamoDB>());

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<EventEnricher>();
        services.AddSingleton<EventQueueSender>();
        services.AddSingleton<SegmentMapper>();
        // Segment's and RudderStack's libraries may gzip their bodies (RudderStack's does by default).
        services.AddRequestDecompression();
        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<IOptions<TrackingOptions>>((cors, tracking) => cors.AddPolicy(SegmentApi.CorsPolicy, policy =>
            {
                var origins = tracking.Value.Origins();
                _ = origins.Contains("*") ? policy.AllowAnyOrigin() : policy.WithOrigins([.. origins]);
                // analytics.js sends Authorization and Content-Type (and X-Retry-Count); the browser must see Retry-After to honour it.
                policy.WithMethods("POST").AllowAnyHeader().WithExposedHeaders("Retry-After").SetPreflightMaxAge(TimeSpan.FromHours(2));
            }));
        services.AddMemoryCache();
        services.AddSingleton(sp => new ApiKeyRegistry(
            sp.GetRequiredService<IAmazonDynamoDB>(), sp.GetRequiredService<IOptions<ApiKeyOptions>>().Value.TableName, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new TrackingPlanStore(
            sp.GetRequiredService<IAmazonDynamoDB>(), sp.GetRequiredService<IOptions<PlanOptions>>().Value.TableName, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<TrackingPlanCache>();
        // Each validator named, not found by scanning two assemblies' types at start (ValidatorRegistrationTests holds the list complete).
        // An event's own rules are shared with the import function (src/Intake).
        services.AddSingleton<IValidator<EventBatch>, EventBatchValidator>();
        services.AddSingleton<IValidator<IncomingEvent>, IncomingEventValidator>();
        services.AddSingleton<IValidator<SegmentMessage>>(sp =>
            new SegmentMessageValidator(sp.GetRequiredService<IOptions<EventLimits>>(), sp.GetRequiredService<TimeProvider>()));
        // Field errors name the JSON fields (eventType), not the C# properties (EventType).
        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) =>
            member is null ? null : System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(member.Name);

        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
            o.SerializerOptions.MaxDepth = 64;
        });
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemDetailsPolicy.Customize);
        // Unreadable bodies go through the exception handler in every environment, so the client always gets the
        // same problem with the reason (by default only Development throws; Production answers a bare 400).
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddPipelineOpenApi();
        return builder;
    }

    /// <summary>Builds the request pipeline and maps the endpoints.</summary>
    public static WebApplication UsePipelineApi(this WebApplication app)
    {
        app.UseForwardedHeaders(ForwardedHeaders(app.Services.GetRequiredService<IOptions<ProxyOptions>>().Value));
        app.UseMiddleware<RequestIdMiddleware>();
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = ProblemDetailsPolicy.StatusCodeFor,
            // A client's bad request is not a server error: no error log, no stack trace in CloudWatch.
            SuppressDiagnosticsCallback = context => context.Exception is BadHttpRequestException { StatusCode: < 500 },
        });
        app.UseStatusCodePages();
        app.UseMiddleware<RequestSizeMiddleware>();
        app.UseRequestDecompression();
        app.UseCors();

        app.UsePipelineOpenApi();
        app.MapGet("/health", () => TypedResults.Ok(new HealthStatus("ok", ProductVersion.Current))).WithTags("Health").WithSummary("Liveness");
        app.MapEventsApi(app.Services.GetRequiredService<IOptions<EventLimits>>().Value);
        app.MapSegmentApi(app.Services.GetRequiredService<IOptions<EventLimits>>().Value);
        return app;
    }

    private static AWSOptions ServiceOptions(IConfiguration configuration, string section)
    {
        var options = configuration.GetAWSOptions(section);
        options.Region ??= configuration.GetAWSOptions().Region;
        // Fail fast: an API request must not wait out the SDK's default timeouts when the queue is down.
        options.DefaultClientConfig.Timeout = TimeSpan.FromSeconds(5);
        options.DefaultClientConfig.MaxErrorRetry = 2;
        return options;
    }

    private static ForwardedHeadersOptions ForwardedHeaders(ProxyOptions proxy)
    {
        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto,
        };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var network in proxy.TrustedNetworks)
        {
            options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        }
        return options;
    }
}
