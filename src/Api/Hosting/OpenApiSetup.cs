using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Pipeline.Api.ApiKeys;
using Pipeline.Api.Events;
using Pipeline.Api.Segment;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Pipeline.Api.Hosting;

/// <summary>The OpenAPI document and the Swagger UI at /swagger, with the API-key scheme and request examples.</summary>
public static class OpenApiSetup
{
    private const string Scheme = "ApiKey";

    /// <summary>Registers the document generator.</summary>
    public static IServiceCollection AddPipelineOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "Event pipeline API",
                Version = "v1",
                Description = "Send product and business events. Every write needs an API key in the x-api-key header; errors are RFC 9457 problem details.",
            });
            o.AddSecurityDefinition(Scheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyFilter.Header,
                Description = "An API key created with `dotnet run --project src/Local -- keys create --name NAME`.",
            });
            o.AddSecurityRequirement(document => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Scheme, document)] = [] });
            o.SchemaFilter<ExampleSchemaFilter>();
            o.OperationFilter<AnonymousOperationFilter>();
            o.OperationFilter<SegmentExampleFilter>();
        });
        return services;
    }

    /// <summary>
    /// Serves /swagger/v1/swagger.json and the UI at /swagger. Swashbuckle's middleware (its embedded files, the
    /// document generator) is built at the first request under /swagger, not at start: an event never waits for it
    /// (docs/benchmarks.md, cold starts).
    /// </summary>
    public static WebApplication UsePipelineOpenApi(this WebApplication app)
    {
        var swagger = new Lazy<RequestDelegate>(() =>
        {
            var branch = ((IApplicationBuilder)app).New();
            branch.UseSwagger();
            branch.UseSwaggerUI(o =>
            {
                o.SwaggerEndpoint("/swagger/v1/swagger.json", "Event pipeline API v1");
                o.EnablePersistAuthorization();
            });
            return branch.Build();
        });
        // No endpoint lives under /swagger: what Swashbuckle does not serve there is a 404 (a problem, by the status code pages).
        app.Use((context, next) => context.Request.Path.StartsWithSegments("/swagger", StringComparison.OrdinalIgnoreCase)
            ? swagger.Value(context)
            : next(context));
        return app;
    }

    // Only the event endpoints need the key; the others (health) say so, overriding the document's requirement.
    private sealed class AnonymousOperationFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var path = context.ApiDescription.RelativePath ?? "";
            if (!path.StartsWith("events", StringComparison.Ordinal) && !path.StartsWith("v1/", StringComparison.Ordinal))
            {
                operation.Security = [];
            }
        }
    }

    // The Segment calls read their body themselves (SegmentRequest), so the document gets it from here: the call's
    // schema under both content types clients send, with an example of that call.
    private sealed class SegmentExampleFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var path = context.ApiDescription.RelativePath ?? "";
            if (!path.StartsWith("v1/", StringComparison.Ordinal))
            {
                return;
            }
            var call = path[3..];
            var schema = context.SchemaGenerator.GenerateSchema(call == "batch" ? typeof(SegmentBatch) : typeof(SegmentMessage), context.SchemaRepository);
            JsonNode example = call == "batch"
                ? new JsonObject { ["batch"] = new JsonArray(SegmentExample("track"), SegmentExample("identify")) }
                : SegmentExample(call);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, IOpenApiMediaType>
                {
                    ["application/json"] = new OpenApiMediaType { Schema = schema, Example = example.DeepClone() },
                    ["text/plain"] = new OpenApiMediaType { Schema = schema, Example = example.DeepClone() },
                },
            };
        }

        private static JsonObject SegmentExample(string call)
        {
            var example = new JsonObject
            {
                ["type"] = call,
                ["messageId"] = $"example-{call}-{Guid.NewGuid():N}",
                ["userId"] = "u-42",
                ["timestamp"] = TimeProvider.System.GetUtcNow().AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:00.000Z", System.Globalization.CultureInfo.InvariantCulture),
                ["context"] = new JsonObject { ["library"] = new JsonObject { ["name"] = "swagger-ui" } },
            };
            switch (call)
            {
                case "track":
                    example["event"] = "Order Completed";
                    example["properties"] = new JsonObject { ["orderId"] = "o-1001", ["revenue"] = 42.5, ["currency"] = "EUR" };
                    break;
                case "identify":
                    example["traits"] = new JsonObject { ["email"] = "ada@example.com", ["plan"] = "pro" };
                    break;
                case "page" or "screen":
                    example["name"] = "Pricing";
                    example["properties"] = new JsonObject { ["path"] = "/pricing" };
                    break;
                case "group":
                    example["groupId"] = "g-7";
                    example["traits"] = new JsonObject { ["name"] = "Initech", ["employees"] = 40 };
                    break;
                case "alias":
                    example["previousId"] = "anon-9f2c";
                    break;
            }
            return example;
        }
    }

    private sealed class ExampleSchemaFilter : ISchemaFilter
    {
        public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
        {
            if (schema is not OpenApiSchema concrete)
            {
                return;
            }
            if (context.Type == typeof(IncomingEvent))
            {
                concrete.Examples = [Example()];
            }
            else if (context.Type == typeof(EventBatch))
            {
                concrete.Examples = [new JsonObject { ["events"] = new JsonArray(Example(), Example("signup", "u-43")) }];
            }
        }

        private static JsonObject Example(string type = "page_view", string user = "u-42") => new()
        {
            ["eventType"] = type,
            ["userId"] = user,
            // A recent time, so the example stays inside the accepted age whenever the document is read.
            ["occurredAt"] = TimeProvider.System.GetUtcNow().AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:00Z", System.Globalization.CultureInfo.InvariantCulture),
            ["properties"] = new JsonObject { ["path"] = "/pricing", ["referrer"] = "https://example.com" },
        };
    }
}
