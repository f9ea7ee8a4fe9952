using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http;

namespace Chat.ServiceDefaults.Tests;

public sealed class QueryStringTokenTests
{
    [Theory]
    [InlineData("?access_token=eyJ.abc.d-f_", "eyJ.abc.d-f_")]
    [InlineData("?x=1&access_token=a%2Eb%20c&y=2", "a.b c")]
    [InlineData("?access%5Ftoken=escaped-name", "escaped-name")]
    [InlineData("?access_token=first&access_token=second", "first")]
    [InlineData("?access_token=", "")]
    public void ReadsTheFirstAccessTokenDecoded(string query, string expected) =>
        Assert.Equal(expected, QueryStringToken.Read(Request(query)));

    [Theory]
    [InlineData("")]
    [InlineData("?")]
    [InlineData("?token=abc&access_tokens=abc")]
    public void IsNullWithoutOne(string query) => Assert.Null(QueryStringToken.Read(Request(query)));

    [Fact]
    public void LeavesTheRequestsQueryCollectionUnparsed()
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString("?access_token=abc");
        Assert.Equal("abc", QueryStringToken.Read(context.Request));
        Assert.Null(context.Features.Get<Microsoft.AspNetCore.Http.Features.IQueryFeature>());
    }

    private static HttpRequest Request(string query)
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = query.Length == 0 ? QueryString.Empty : new QueryString(query);
        return context.Request;
    }
}
