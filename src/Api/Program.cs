using Pipeline.Api.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddPipelineApi();

var app = builder.Build();
app.Logger.LogInformation("Api {Version} starting", Pipeline.ProductVersion.Current);
app.UsePipelineApi();
app.Run();

/// <summary>The API's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
