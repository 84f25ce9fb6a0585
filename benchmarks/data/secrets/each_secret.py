red_herring = "DEADBEEF"
id = "YW1pYWx3YXlzZ2VuZXJhdGluZ3BheWxvYWRzd2hlbmltaHVuZ3J5b3JhbWlhbHdheXNodW5ncnk"

base64_secret = "c2VjcmV0IG1lc3NhZ2Ugc28geW91J2xsIG5ldmVyIGd1ZXNzIG15IHBhc3N3b3Jk"
hex_secret = "8b1118b376c313ed420e5133ba91307817ed52c2"
basic_auth = "http://username:whywouldyouusehttpforpasswords@example.com"

aws_access_key = "AKIAIOSFODNN7EXAMPLE"
aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
