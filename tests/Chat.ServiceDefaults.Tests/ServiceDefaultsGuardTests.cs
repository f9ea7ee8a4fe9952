using System.Diagnostics;
using System.Security.Claims;
using Chat.ServiceDefaults.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Chat.ServiceDefaults.Tests;

/// <summary>Guards every service takes from Chat.ServiceDefaults: one identity per token, health checks that end.</summary>
public sealed class ServiceDefaultsGuardTests
{
    private static ClaimsPrincipal Principal(params (string Type, string Value)[] claims) =>
        new(new ClaimsIdentity(claims.Select(c => new Claim(c.Type, c.Value)), authenticationType: "Bearer"));

    [Fact]
    public void ChatUserIsReadFromOneSubjectAndOneTenant()
    {
        Assert.True(ChatUser.TryFrom(Principal(("sub", "u1"), ("tenant_id", "t1"), ("scope", "chat.read")), out var user));
        Assert.Equal(("t1", "u1"), (user.TenantId, user.UserId));
    }

    [Theory]
    [InlineData("tenant_id")]
    [InlineData("sub")]
    public void ChatUserIsRefusedWhenAClaimComesTwice(string repeated)
    {
        var principal = Principal(("sub", "u1"), ("tenant_id", "t1"), (repeated, "other"));

        Assert.False(ChatUser.HasAtMostOneIdentity(principal));
        Assert.False(ChatUser.TryFrom(principal, out _));
    }

    [Fact]
    public async Task HealthCheckThatNeverAnswersIsUnhealthyWithinItsTimeout()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["HealthChecks:Timeout"] = "00:00:00.300";
        builder.AddDefaultHealthChecks();
        // Ignores its token, as a client waiting out its own timeout does.
        var never = new TaskCompletionSource<HealthCheckResult>();
        builder.Services.AddHealthChecks().AddAsyncCheck("stuck", _ => never.Task);
        using var host = builder.Build();

        var clock = Stopwatch.StartNew();
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().WaitAsync(TimeSpan.FromSeconds(30));
        clock.Stop();

        Assert.Equal(HealthStatus.Unhealthy, report.Entries["stuck"].Status);
        Assert.Equal(HealthStatus.Healthy, report.Entries["self"].Status);
        // At least the timeout; far less than the check's 30 s wait (a loaded machine adds its own seconds to the bound).
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));
        never.SetResult(HealthCheckResult.Healthy());
    }

    [Theory]
    [InlineData("""{"sub":"u1","tenant_id":"t1","scope":"chat.read","exp":1}""", true)]
    [InlineData("""{"sub":"u1","tenant_id":"t1","other":["a","b"],"nested":{"tenant_id":["x","y"]}}""", true)]
    [InlineData("""{"sub":"u1","tenant_id":["t1","t2"]}""", false)]
    [InlineData("""{"sub":"u1","tenant_id":["t1"]}""", false)]
    [InlineData("""{"sub":"u1","tenant_id":{"id":"t1"}}""", false)]
    [InlineData("""{"sub":"u1","tenant_id":"t1","tenant_id":"t2"}""", false)]
    [InlineData("""{"sub":["u1","u2"],"tenant_id":"t1"}""", false)]
    [InlineData("""{"sub":"u1","sub":"u2","tenant_id":"t1"}""", false)]
    public void PayloadMustNameOneUserAndOneTenant(string payload, bool accepted)
    {
        var encoded = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(payload);
        Assert.Equal(accepted, SingleIdentityTokenHandler.NamesOneIdentity(encoded));
    }
}
