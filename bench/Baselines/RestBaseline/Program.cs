using Chat.Bench.Baselines.RestBaseline;
using Microsoft.Extensions.Options;
using Npgsql;

// The REST floors for docs/BENCHMARKS.md: bare Kestrel and one primary-key SELECT through Npgsql per request, and
// a history page's SELECT and JSON without Chat (PageApi).
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddOptions<RestBaselineOptions>()
    .BindConfiguration(RestBaselineOptions.SectionName)
    .ValidateDataAnnotations()
    .ValidateOnStart();
// Prepared statements, as Chat's services use (Chat.Data's AddChatDatabase turns on Npgsql's auto-preparation).
builder.Services.AddSingleton(sp => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(sp.GetRequiredService<IOptions<RestBaselineOptions>>().Value.Postgres)
{
    MaxAutoPrepare = 64,
    AutoPrepareMinUsages = 2,
}.ConnectionString));
builder.Services.AddHostedService<ItemSeeder>();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, BaselineJsonContext.Default));

var app = builder.Build();
app.MapGet("/health", () => TypedResults.Text("ok"));
app.MapGet("/items/{id:long}", ItemsApi.GetItemAsync);
app.MapGet("/conversations/{n:int}/messages", PageApi.GetPageAsync);
app.Run();
